"""The container engine: a small protocol (protocol) and its one docker-py implementation (docker_engine).

Owns: talking to Docker. Nothing outside docker_engine.py imports `docker`; everything else talks to the protocol.
Also here, on top of the protocol only: finding pinned images (image_lookup) and one-shot containers (oneshot).
May import: foundation, errors.
"""
