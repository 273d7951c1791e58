"""`paddlectl export`: a trained model to a static graph, inside the run's exact image, proven equivalent.

Owns: the export request and plan (spec, run), the recorded run it starts from (source) and export.yaml (record).
May import: runs, project, engine (protocol, image lookup, one-shot containers), foundation, errors.
Never imports paddle, numpy or pickle: weights are only loaded inside the container (incontainer/export_model.py).
"""
