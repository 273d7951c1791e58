"""`paddlectl doctor`: is this machine ready to train? Each check says how to fix what fails.

May import: project, engine, foundation, errors.
"""
