"""Write examples/digits/digits.npz from the copy of the UCI digits bundled with scikit-learn.

    pip install scikit-learn          # only for this script; paddlectl does not depend on it
    python scripts/make-digits-npz.py            # (re)write examples/digits/digits.npz
    python scripts/make-digits-npz.py --check    # compare the shipped file with scikit-learn's data

The file is an ordinary .npz (np.load reads it) holding `images` (uint8 [1797, 8, 8], values 0..16, as
`load_digits().images`) and `labels` (int64 [1797], as `load_digits().target`), in scikit-learn's order.
It is written like np.savez_compressed (a deflated zip of .npy members) but with a fixed member timestamp,
so the same inputs give the same bytes and the sha256 in examples/digits/DATA.md can be checked.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "examples" / "digits" / "digits.npz"
FIXED_TIME = (1998, 7, 1, 0, 0, 0)  # the dataset's date; any constant makes the zip reproducible


def digits_arrays() -> dict[str, np.ndarray]:
    """The 1,797 images and labels from scikit-learn's bundled copy (no download)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images)
    if images.shape != (1797, 8, 8) or images.min() < 0 or images.max() > 16 or not np.all(images == np.round(images)):
        raise SystemExit(f"unexpected digits data: shape {images.shape}, range {images.min()}..{images.max()}")
    return {"images": images.astype(np.uint8), "labels": np.asarray(bunch.target, dtype=np.int64)}


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays as a compressed .npz whose bytes depend only on the arrays."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue(), compresslevel=9)
    path.write_bytes(buffer.getvalue())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check(path: Path, arrays: dict[str, np.ndarray]) -> int:
    """0 when the file holds exactly scikit-learn's arrays (names, dtypes, shapes, values), else 1."""
    with np.load(path, allow_pickle=False) as shipped:
        names = sorted(shipped.files)
        if names != sorted(f"{name}" for name in arrays):
            print(f"{path}: members {names}, expected {sorted(arrays)}", file=sys.stderr)
            return 1
        for name, expected in arrays.items():
            got = shipped[name]
            if got.dtype != expected.dtype or got.shape != expected.shape or not np.array_equal(got, expected):
                print(
                    f"{path}: '{name}' differs ({got.dtype} {got.shape} vs {expected.dtype} {expected.shape})",
                    file=sys.stderr,
                )
                return 1
    print(f"{path}: matches scikit-learn's digits; sha256 {sha256(path)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT, help="where to write the .npz")
    parser.add_argument("--check", action="store_true", help="compare the existing file instead of writing")
    args = parser.parse_args()
    arrays = digits_arrays()
    if args.check:
        return check(args.output, arrays)
    write_npz(args.output, arrays)
    counts = np.bincount(arrays["labels"], minlength=10).tolist()
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes), sha256 {sha256(args.output)}")
    print(f"images {arrays['images'].dtype} {arrays['images'].shape}, labels per class {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
