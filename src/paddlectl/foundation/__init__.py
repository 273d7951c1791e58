"""Foundation: what every domain shares and none owns.

Owns: crash-safe writes (atomic), safe YAML (yamlio), file hashing, secret masking, image references (image_ref),
and the names paddlectl gives things outside Python: labels, container paths (names).
May import: paddlectl.errors only. Knows nothing of runs, images, engines or the CLI.
"""
