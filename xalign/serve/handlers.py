"""What the page's buttons do, without gradio: attach a file, ask a question, start over.

Each handler updates a :class:`~xalign.serve.chat.Conversation` in place; failures become
notices in the chat (the loader's message, never a traceback).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from xalign.serve.backend import AttachmentError, Backend
from xalign.serve.chat import Attachment, Conversation
from xalign.serve.media import (
    AUTO,
    guess_modality,
    preview_file,
    preview_kind,
    read_media,
    user_message,
)


@dataclass(frozen=True)
class Preview:
    """What the preview pane shows: ``kind`` is image, video, audio, 3d or ``None``."""

    kind: str | None = None
    path: Path | None = None


def upload(backend: Backend, conversation: Conversation, path: str | Path | None,
           chosen: str, labels: Sequence[str], folder: Path) -> Preview:
    """Read ``path`` with its modality's loader; attach it, or say why not."""
    if not path:
        return Preview()
    path = Path(path)
    try:
        modalities = backend.modalities()
        prefer = [c.modality for c in backend.choices if c.label in set(labels)]
        name = guess_modality(path, modalities, chosen or AUTO, prefer)
        raw = read_media(modalities[name], path)
        kind = preview_kind(name, raw)
        shown = preview_file(kind, path, raw, folder)
    except Exception as exc:  # every failure is a line in the chat (user_message logs bugs)
        conversation.notice(user_message(exc, path))
        return Preview()
    conversation.attach(Attachment(path, name))
    return Preview(kind, shown)


def send(backend: Backend, conversation: Conversation, question: str,
         labels: Sequence[str]) -> bool:
    """Answer ``question`` over the conversation's inputs; ``False`` when it could not."""
    question = question.strip()
    if not question:
        conversation.notice("type a question first")
        return False
    if not conversation.media():
        conversation.notice("attach a media file first (image, video, audio or 3D)")
        return False
    try:
        answer = backend.answer(conversation, question, labels)
    except AttachmentError as exc:
        conversation.drop(exc.attachment)
        conversation.notice(f"{user_message(exc.cause, exc.attachment.path)} "
                            "(left out of the conversation)")
        return False
    except Exception as exc:  # XalignError: its message; a bug: its type, logged
        conversation.notice(user_message(exc))
        return False
    conversation.record(question, answer.strip() or "(empty answer)")
    return True


def describe(backend: Backend) -> str:
    """The page's header line: how many projectors were found and for what."""
    if not backend.choices:
        return ("No projectors found: train one (`xalign train --modality image`) or start "
                "with `xalign serve --projector DIR`.")
    modalities = sorted({c.modality for c in backend.choices})
    return (f"{len(backend.choices)} projector(s) for {', '.join(modalities)}. Attach files, "
            "then ask; every question sees all inputs attached so far, in order.")

