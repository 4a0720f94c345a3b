"""``xalign data …``: data tools (synthetic world, DisCRn and QA builders, quality check)."""

from xalign.cli._mount import group

app = group("Data tools: write the synthetic world, build DisCRn and QA sets, check quality.",
            ["xalign.cli.data_synth", "xalign.cli.data_discrn", "xalign.cli.data_qa",
             "xalign.cli.data_check"])
