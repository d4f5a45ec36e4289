"""The throughput plot: produce and consume MB/s per workload, by value size and broker."""

from __future__ import annotations

from pathlib import Path

COLOURS = {"refka": "#d95f02", "Tansu": "#7570b3", "Apache Kafka": "#1b9e77"}


def write_plot(summary: dict, path: Path, title: str) -> None:
    """A 2x2 grid (produce/consume x 100 B/1 KiB) of grouped bars, one bar per broker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    brokers = summary["brokers"]
    figure, axes = plt.subplots(2, 2, figsize=(13, 8), sharey="row")
    for row_index, kind in enumerate(("produce", "consume")):
        for column_index, size in enumerate(("100 B", "1 KiB")):
            axis = axes[row_index][column_index]
            records = [r for r in summary["rows"] if r["key"].startswith(f"{kind} {size} ")]
            labels = [r["key"].removeprefix(f"{kind} {size} ") for r in records]
            width = 0.8 / max(1, len(brokers))
            for i, broker in enumerate(brokers):
                xs = [j + (i - (len(brokers) - 1) / 2) * width for j in range(len(records))]
                heights = [r["median"].get(broker) or 0.0 for r in records]
                axis.bar(xs, heights, width, label=broker, color=COLOURS.get(broker))
            axis.set_xticks(range(len(records)), labels, rotation=30, ha="right", fontsize=8)
            axis.set_title(f"{kind}, {size} values")
            axis.grid(axis="y", alpha=0.3)
            if column_index == 0:
                axis.set_ylabel("MB/s (values, median)")
    axes[0][0].legend()
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
