"""``xalign eval …``: DisCRn, classification, captioning and QA evaluations."""

from xalign.cli._mount import group

app = group("Evaluate projectors: DisCRn, classification, captioning, QA.",
            ["xalign.cli.eval_discrn", "xalign.cli.eval_classify", "xalign.cli.eval_caption",
             "xalign.cli.eval_qa"])
