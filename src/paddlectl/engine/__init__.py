"""The container engine: a small protocol (protocol.py) and its one docker-py implementation (docker_engine.py).

Nothing outside docker_engine.py imports `docker`; everything else talks to the protocol.
"""
