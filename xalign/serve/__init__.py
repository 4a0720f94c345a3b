"""``xalign serve``: a browser chat over media with trained projectors (gradio, optional).

One module per job: :mod:`.discover` finds projectors, :mod:`.chat` keeps a conversation
and turns it into one :class:`~xalign.model.Example`, :mod:`.media` checks uploads and makes
previews, :mod:`.backend` loads models and answers, :mod:`.app` lays out the page. Only
:mod:`.app` imports gradio (the ``serve`` extra).
"""
