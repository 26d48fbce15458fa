"""``ganzoo interpolate NAME_OR_RUN --seeds 1,2,3 --frames 60 -o walk.gif`` (latent walk) and
``--classes 1,5`` (a conditional model's digit 1 morphing into 5)."""

import shutil
import subprocess
import tempfile
from pathlib import Path

from ganzoo.commands.common import add_raw_option, choose_generator, default_weights, load_source, parse_labels


def add_parser(sub):
    """Register ``ganzoo interpolate`` and its options on the subcommand parsers ``sub``."""
    p = sub.add_parser("interpolate", help="animate a latent walk or a class morph (GIF, or MP4 with ffmpeg)",
                       description="Spherical interpolation through the latents of several seeds, or between "
                                   "two classes of a conditional model.")
    p.add_argument("source", help="entry name (pretrained weights), run folder or .keras file")
    p.add_argument("--seeds", default="1,2,3", help="seeds to walk through (default 1,2,3)")
    p.add_argument("--classes", help="conditional models: morph between two classes, e.g. 1,5 (uses --seed)")
    p.add_argument("--seed", type=int, default=0, help="latent for --classes (default 0)")
    p.add_argument("--label", type=int, help="class drawn during a walk of a conditional model (default 0)")
    p.add_argument("--frames", type=int, default=60, help="number of frames (default 60)")
    p.add_argument("--fps", type=int, default=20, help="frames per second (default 20)")
    p.add_argument("--truncation", type=float, help="truncation psi in [0, 2]")
    p.add_argument("--loop", action="store_true", help="walk back to the first seed")
    p.add_argument("--scale", type=int, default=4, help="enlarge frames by this factor (default 4)")
    p.add_argument("--weights", help="for an entry name: 'pretrained' (default), a weights file or 'untrained'")
    add_raw_option(p)
    p.add_argument("-o", "--output", default="walk.gif", help="walk.gif or walk.mp4 (default walk.gif)")
    p.set_defaults(func=run)


def _seeds(text: str) -> list:
    values = parse_labels(text)
    return [values] if isinstance(values, int) else values


def run(args) -> int:
    """Run ``ganzoo interpolate`` with the parsed ``args``; return the exit status (0 on success)."""
    import numpy as np  # noqa: PLC0415

    from ganzoo import art  # noqa: PLC0415
    from ganzoo.images import save_gif, to_uint8  # noqa: PLC0415

    output = Path(args.output)
    if output.suffix.lower() not in (".gif", ".mp4"):
        raise ValueError(f"-o must end in .gif or .mp4, got '{args.output}'")
    if output.suffix.lower() == ".mp4" and shutil.which("ffmpeg") is None:
        raise ValueError("MP4 needs ffmpeg on PATH (e.g. apt-get install ffmpeg); write a .gif instead")
    if args.scale < 1:
        raise ValueError(f"--scale must be >= 1, got {args.scale}")
    model, provenance = load_source(args.source, default_weights(args.source, args.weights), command="interpolate")
    choice = choose_generator(model, provenance, args.raw)
    print(f"sampling from the {choice}")
    if args.classes:
        classes = _seeds(args.classes)
        if len(classes) != 2:
            raise ValueError(f"--classes takes two classes such as 1,5; got '{args.classes}'")
        frames = art.class_morph(model, classes[0], classes[1], frames=args.frames, seed=args.seed,
                                 use_ema=choice.ema)
        meta = dict(provenance, generator=choice.description, kind="class interpolation", classes=classes,
                    seed=args.seed)
    else:
        seeds = _seeds(args.seeds)
        frames = art.latent_walk(model, seeds, frames=args.frames, labels=args.label, truncation=args.truncation,
                                 loop=args.loop, use_ema=choice.ema)
        meta = dict(provenance, generator=choice.description, kind="latent walk (slerp)", seeds=seeds,
                    labels=args.label,
                    truncation=args.truncation)
    frames = to_uint8(frames)
    if args.scale > 1:
        frames = frames.repeat(args.scale, axis=1).repeat(args.scale, axis=2)
    if output.suffix.lower() == ".gif":
        save_gif(list(frames), output, duration_ms=int(1000 / max(args.fps, 1)), metadata=meta)
    else:
        _write_mp4(frames, output, args.fps)
    print(f"wrote {len(frames)} frames to {output}")
    return 0


def _write_mp4(frames, output: Path, fps: int) -> None:
    from ganzoo.images import ensure_writable_dir, save_image  # noqa: PLC0415

    ensure_writable_dir(output.parent)
    with tempfile.TemporaryDirectory() as tmp:
        for i, frame in enumerate(frames):
            save_image(frame, Path(tmp) / f"f{i:05d}.png")
        cmd = ["ffmpeg", "-loglevel", "error", "-y", "-framerate", str(fps), "-i", str(Path(tmp) / "f%05d.png"),
               "-pix_fmt", "yuv420p", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", str(output)]
        subprocess.run(cmd, check=True)
