"""A third-party projector kind registered through the register_projectors hook."""

import torch

from xalign import hookimpl
from xalign.projectors.base import Projector


class Doubling(Projector):
    """Twice the first feature token, repeated: enough to show the kind is built from config."""

    def __init__(self, config):
        super().__init__(config)
        self.scale = torch.nn.Parameter(torch.tensor(2.0))

    def forward(self, features, instruction_ids=None, instruction_mask=None):
        token = self.scale * features[:, :1, : self.config.llm_dim]
        return token.expand(-1, self.config.num_tokens, -1)


@hookimpl
def register_projectors(register):
    register("doubling", "tests.fixture_plugins.projector_kind:Doubling")
