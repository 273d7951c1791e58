"""paddlectl's benchmarks: `python -m bench` runs every module here that exposes `run(quick: bool = False)`.

Each `run()` returns rows `{"figure", "paddlectl", "baseline", "ratio", "target"}`: what is measured,
paddlectl's number, the number it is compared with, `ratio = paddlectl / baseline`, and the highest acceptable
ratio (None when the row is informational). A row may carry its own `"ok"` (bool) when "lower is better" does
not apply, and a `"unit"` (default "s").
"""
