"""``sentrix encode MODEL FILE -o OUT.npy``: embed every line of a text file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("encode", help="embed the lines of a text file into a .npy array",
                                   description="Embed every non-empty line of FILE with MODEL and save a float32 array "
                                   "of shape (lines, dimension) with numpy.save.")
    parser.add_argument("model", help="a model folder or Hub id")
    parser.add_argument("file", help="a UTF-8 text file, one text per line")
    parser.add_argument("-o", "--output", required=True, help="the .npy file to write")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--prompt-name", default=None, help="a prompt stored with the model (e.g. query)")
    parser.add_argument("--normalize", action="store_true", help="L2-normalise the embeddings")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps... (default: the best available)")
    parser.set_defaults(func=run_encode)


def run_encode(args: argparse.Namespace) -> int:
    import numpy as np

    from sentrix.config.build import load_model
    from sentrix.errors import InvalidInputError

    source, output = Path(args.file), Path(args.output)
    if not source.is_file():
        raise InvalidInputError(f"text file {str(source)!r} does not exist. Give a UTF-8 file with one text per line.")
    if output.suffix != ".npy":
        raise InvalidInputError(f"-o {str(output)!r} must end in .npy (the embeddings are saved with numpy.save).")
    if args.batch_size < 1:
        raise InvalidInputError(f"--batch-size must be at least 1, got {args.batch_size}.")
    texts = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise InvalidInputError(f"{str(source)!r} has no non-empty lines to encode.")
    model = load_model(args.model, device=args.device)
    embeddings = model.encode(texts, batch_size=args.batch_size, prompt_name=args.prompt_name,
                              normalize_embeddings=args.normalize, convert_to_numpy=True, show_progress_bar=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    np.save(output, np.asarray(embeddings, dtype=np.float32))
    print(f"wrote {output}: {len(texts)} x {embeddings.shape[1]}")
    return 0
