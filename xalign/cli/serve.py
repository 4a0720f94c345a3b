"""``xalign serve``: a browser chat over media with trained projectors (gradio, 127.0.0.1).

    xalign serve                                  # every projector under runs/
    xalign serve --projector runs/demo/image/projector --port 7860

The page listens on 127.0.0.1 only; from another machine, forward the port
(``ssh -L 7860:127.0.0.1:7860 host``).
"""

from __future__ import annotations

from pathlib import Path

import typer

from xalign.errors import XalignError

serve = typer.Typer(add_completion=False)


@serve.command("serve")
def serve_command(
    projector: list[Path] = typer.Option(
        [], "--projector", "-p", help="A saved projector directory (repeatable)."),
    runs: list[Path] = typer.Option(
        [Path("runs")], "--runs", help="Folders searched for projectors (repeatable)."),
    llm: str | None = typer.Option(
        None, "--llm", help="Override the LLM the projectors recorded (hub id or path)."),
    gguf_file: str | None = typer.Option(None, "--gguf-file", help="GGUF file inside --llm."),
    preset: str = typer.Option("greedy", "--preset", help="Decoding preset."),
    max_new_tokens: int = typer.Option(64, "--max-new-tokens", min=1),
    port: int = typer.Option(7860, "--port", min=0, max=65535, help="0: any free port."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1…"),
    no_cue: bool = typer.Option(False, "--no-cue", help="Drop the modality cue text."),
) -> None:
    """Chat in the browser about images, videos, audio and 3D files with trained projectors."""
    from xalign.serve.app import build_app, launch, require_gradio
    from xalign.serve.backend import Backend
    from xalign.serve.discover import gather

    require_gradio()  # before any search or load
    choices = gather(projector, runs)
    if not choices:
        searched = ", ".join(str(r) for r in runs)
        raise XalignError(f"no projectors found under {searched}; train one (xalign train "
                          "--modality image) or pass --projector DIR")
    backend = Backend(choices, llm=llm, gguf_file=gguf_file, preset=preset,
                      overrides={"max_new_tokens": max_new_tokens}, device=device,
                      use_cue=not no_cue)
    app = build_app(backend)
    url = launch(app, port, block=False)
    typer.echo(f"{len(choices)} projector(s); open {url} (Ctrl-C stops)")
    try:
        app.block_thread()
    finally:
        app.close()
