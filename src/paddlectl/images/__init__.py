"""The layered images paddlectl builds (base, dev, prod) and the dev session that runs one.

Owns: locked requirements (lock), the host wheelhouse (wheelhouse), content tags (tags), the build (build),
.paddlectl/images.yaml (records), the platform probe (platform_probe) and `paddlectl dev` (dev_session).
May import: packaging (a prod image serves a verified package), project, engine, foundation, errors.
"""
