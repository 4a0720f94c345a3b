"""The gradio page: projector picker, upload with a preview per modality, chat; and launching
it on 127.0.0.1."""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path
from typing import Any

from xalign.errors import XalignError
from xalign.serve import handlers
from xalign.serve.backend import Backend
from xalign.serve.chat import Conversation
from xalign.serve.media import AUTO

HOST = "127.0.0.1"
PREVIEWS = ("image", "video", "audio", "3d")


def require_gradio() -> Any:
    """The gradio module, or an error saying how to install it."""
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline; no usage reports
    try:
        import gradio
    except ImportError as exc:
        raise XalignError("`xalign serve` needs gradio, an optional extra: pip install "
                          "'xalign[serve]' (or pip install 'gradio>=5')") from exc
    return gradio


def build_app(backend: Backend) -> Any:
    """The :class:`gradio.Blocks` page for ``backend``."""
    gr = require_gradio()
    folder = Path(tempfile.mkdtemp(prefix="xalign-serve-"))
    modalities = sorted(backend.modalities())
    extensions = sorted({s for m in backend.modalities().values() for s in m.extensions})
    default = _one_per_modality(backend)

    with gr.Blocks(title="xalign") as app:
        gr.Markdown(f"## xalign\n{handlers.describe(backend)}", elem_id="xalign-header")
        conversation = gr.State(Conversation())
        with gr.Row():
            with gr.Column(scale=1):
                projectors = gr.Dropdown(backend.labels, value=default, multiselect=True,
                                         label="Projectors (one per modality)",
                                         elem_id="xalign-projectors")
                modality = gr.Dropdown([AUTO, *modalities], value=AUTO, label="Read file as",
                                       elem_id="xalign-modality")
                upload = gr.File(label="Attach a media file", file_types=extensions,
                                 type="filepath", elem_id="xalign-upload")
                previews = [
                    gr.Image(label="Image", visible=False, interactive=False, type="filepath",
                             elem_id="xalign-preview-image"),
                    gr.Video(label="Video", visible=False, interactive=False,
                             elem_id="xalign-preview-video"),
                    gr.Audio(label="Audio", visible=False, interactive=False, type="filepath",
                             elem_id="xalign-preview-audio"),
                    # always shown: a Model3D made visible later draws at zero height
                    gr.Model3D(label="3D", interactive=False, height=320,
                               elem_id="xalign-preview-3d"),
                ]
            with gr.Column(scale=2):
                chat = gr.Chatbot(**_chatbot_kwargs(gr), elem_id="xalign-chat")
                question = gr.Textbox(label="Question", placeholder="Ask about the inputs…",
                                      elem_id="xalign-question")
                with gr.Row():
                    ask = gr.Button("Send", variant="primary", elem_id="xalign-send")
                    clear = gr.Button("New conversation", elem_id="xalign-clear")

        def on_upload(path: str | None, chosen: str, labels: list[str], conv: Conversation
                      ) -> list[Any]:
            preview = handlers.upload(backend, conv, path, chosen, labels or [], folder)
            if preview.kind is None:  # refused or not previewable: keep the last preview
                shown = [gr.update() for _ in PREVIEWS]
            else:
                shown = [gr.update(value=str(preview.path), visible=True) if preview.kind == kind
                         else gr.update(value=None, visible=kind == "3d") for kind in PREVIEWS]
            return [conv, list(conv.messages), gr.update(value=None), *shown]

        def on_send(text: str, labels: list[str], conv: Conversation) -> list[Any]:
            answered = handlers.send(backend, conv, text or "", labels or [])
            return [conv, list(conv.messages), "" if answered else text]

        def on_clear() -> list[Any]:
            conv = Conversation()
            return [conv, [], *(gr.update(value=None, visible=kind == "3d") for kind in PREVIEWS)]

        upload.upload(on_upload, [upload, modality, projectors, conversation],
                      [conversation, chat, upload, *previews])
        for trigger in (ask.click, question.submit):
            trigger(on_send, [question, projectors, conversation], [conversation, chat, question])
        clear.click(on_clear, None, [conversation, chat, *previews])
    return app


def _one_per_modality(backend: Backend) -> list[str]:
    """Preselected projectors: the first found for each modality."""
    chosen: dict[str, str] = {}
    for choice in backend.choices:
        chosen.setdefault(choice.modality, choice.label)
    return list(chosen.values())


def _chatbot_kwargs(gr: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"label": "Conversation", "height": 420}
    if "type" in inspect.signature(gr.Chatbot.__init__).parameters:
        kwargs["type"] = "messages"  # gradio 5; 6 only has messages
    return kwargs


def launch(app: Any, port: int = 7860, *, block: bool = True) -> str:
    """Serve ``app`` on 127.0.0.1 only (port 0: a free one); returns the page's address.
    With ``block=False`` it returns at once; ``app.close()`` stops the server."""
    import socket

    if port == 0:
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
    app.queue(default_concurrency_limit=1)
    _, url, _ = app.launch(server_name=HOST, server_port=port, prevent_thread_lock=not block,
                           share=False, quiet=True, max_file_size="500mb",
                           ssr_mode=False)
    return url or f"http://{HOST}:{port}/"
