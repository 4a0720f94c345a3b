"""The report as one PNG: answer lengths, balance, nearest-neighbour similarity, findings."""

from __future__ import annotations

from pathlib import Path

from .report import Distribution, QualityReport


def _bars(ax: object, dist: Distribution, title: str) -> None:
    names = list(dist.counts)[:12]
    ax.barh(names[::-1], [dist.counts[n] for n in names][::-1], color="tab:blue")
    ax.set_title(f"{title} (balance {dist.balance:.2f})", fontsize=9)
    ax.tick_params(labelsize=7)


def write_png(report: QualityReport, out: str | Path) -> Path:
    """Draw ``report`` into ``out`` (a 2 x 3 grid of panels) and return the path."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no display

    fig = Figure(figsize=(15, 8))
    axes = fig.subplots(2, 3)
    # fixed margins: tight_layout would draw the figure twice
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.06, top=0.9, wspace=0.45, hspace=0.3)
    ax = axes[0][0]
    hist = report.answers.histogram if report.answers else {}
    ax.bar([int(k) for k in hist], list(hist.values()), color="tab:green")
    ax.set_title("answer length (words)", fontsize=9)
    _bars(axes[0][1], report.modalities, "lines per modality")
    _bars(axes[0][2], report.tasks, "lines per task")
    ax = axes[1][0]
    for n, dist in enumerate(report.attributes.values()):
        total, left = sum(dist.counts.values()) or 1, 0.0
        for value, count in dist.counts.items():
            ax.barh(n, count / total, left=left)
            ax.text(left + count / total / 2, n, value, ha="center", va="center", fontsize=6)
            left += count / total
    ax.set_yticks(range(len(report.attributes)),
                  [f"{k} ({d.balance:.2f})" for k, d in report.attributes.items()], fontsize=7)
    ax.set_title("attribute values (share of lines; balance)", fontsize=9)
    ax = axes[1][1]
    for modality, values in report.nearest_similarity.items():
        ax.hist(values, bins=40, range=(-1, 1), alpha=0.6, label=modality)
    if report.near_threshold is not None:
        ax.axvline(report.near_threshold, color="red", linestyle="--", label="threshold")
        ax.legend(fontsize=7)
    ax.set_title("nearest-neighbour cosine per file", fontsize=9)
    ax = axes[1][2]
    findings = {"missing": len(report.missing), "corrupt": len(report.corrupt),
                "exact dup media": len(report.exact_duplicates),
                "near dup media": len(report.near_duplicates),
                "dup instructions": len(report.duplicate_instructions),
                "empty answers": len(report.answers.empty) if report.answers else 0}
    ax.barh(list(findings)[::-1], list(findings.values())[::-1], color="tab:red")
    ax.set_title("findings", fontsize=9)
    ax.tick_params(labelsize=7)
    fig.suptitle(f"{report.manifest}: {report.lines} lines, {report.media_files} files")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    return out
