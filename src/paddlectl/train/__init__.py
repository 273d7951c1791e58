"""`paddlectl train` and `paddlectl reproduce`: a request checked, a run recorded, its container followed.

Owns: the train request and its container spec (request), checking it (prepare), params (params), the git
capture (git_capture), running the container with signals (runner), the train flow (launch) and reproduce.
May import: runs, project, engine, foundation, errors.
"""
