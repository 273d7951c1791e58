"""The project: its folder, paddlectl.yaml (config) and `paddlectl init` (create).

Owns: finding the project root, reading and validating paddlectl.yaml, writing a new project.
May import: foundation, errors.
"""
