"""Write SYNTHETIC trainer-style logs (PaddleOCR, PaddleDetection, PaddleClas) for the metrics parser's tests.

These are not captured from the real toolkits (they are not in the test image): each line is composed from
the format strings in those projects' training loops, with deterministic made-up values:
- PaddleOCR tools/program.py: "epoch: [{}/{}], global_step: {}, {logs}, avg_reader_cost: {:.5f} s, ..."
  then "cur metric, k: v, ..." and "best metric, k: v, ..., best_epoch: N" after an eval.
- PaddleDetection ppdet/engine/callbacks.py: "Epoch: [{}] [{:3d}/{}] learning_rate: {:.6f} {meters} eta: {}
  batch_cost: {:.4f} data_cost: {:.4f} ips: {:.4f} images/s"; the glog lines Paddle's C++ core prints on GPUs.
- PaddleClas ppcls/engine/train/utils.py: "[Train][Epoch {}/{}][Iter: {}/{}]lr(Decay): {:.8f}, {metrics},
  batch_cost: {:.5f}s, reader_cost: {:.5f}, ips: {:.5f} samples/s, eta: {}" and "[Eval][Epoch {}][Avg]...".

Re-create: python tests/data/make_trainer_logs.py (writes ppocr_train.log, ppdet_train.log, ppcls_train.log
next to this file). The expected series are computed in tests/unit/runs/test_metrics.py from the same rules.
"""

from __future__ import annotations

import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _eta(seconds: int) -> str:
    return str(datetime.timedelta(seconds=seconds))


def ppocr() -> str:
    lines = [
        "[2025/01/06 10:00:00] ppocr INFO: Architecture : ",
        "[2025/01/06 10:00:00] ppocr INFO:     algorithm : DB",
        "[2025/01/06 10:00:00] ppocr INFO:     batch_size_per_card : 8",
        "[2025/01/06 10:00:01] ppocr INFO: train dataloader has 20 iters",
        "[2025/01/06 10:00:01] ppocr INFO: valid dataloader has 5 iters",
    ]
    global_step = 0
    for epoch in (1, 2):
        for idx in range(20):
            global_step += 1
            if global_step % 10 and idx != 19:
                continue
            loss = 2.0 / global_step
            logs = (
                f"lr: {0.001 * (1 - global_step / 100):.6f}, loss: {loss:.6f}, "
                f"loss_shrink_maps: {loss * 0.6:.6f}, loss_threshold_maps: {loss * 0.3:.6f}"
            )
            lines.append(
                f"[2025/01/06 10:{global_step:02d}:00] ppocr INFO: epoch: [{epoch}/2], global_step: {global_step}, "
                f"{logs}, avg_reader_cost: 0.01234 s, avg_batch_cost: 0.23456 s, avg_samples: 8.0, "
                f"ips: 34.10567 samples/s, eta: {_eta(3600 * 26 + 123 - global_step * 10)}"
            )
        lines.append(
            f"[2025/01/06 10:{global_step:02d}:30] ppocr INFO: cur metric, precision: 0.{epoch}5, "
            f"recall: 0.{epoch}0, hmean: 0.{epoch}2, fps: 51.3"
        )
        lines.append(f"[2025/01/06 10:{global_step:02d}:31] ppocr INFO: save best model is to ./output/best_accuracy")
        lines.append(
            f"[2025/01/06 10:{global_step:02d}:31] ppocr INFO: best metric, hmean: 0.{epoch}2, "
            f"precision: 0.{epoch}5, recall: 0.{epoch}0, fps: 51.3, best_epoch: {epoch}"
        )
    return "\n".join(lines) + "\n"


def ppdet() -> str:
    lines = [
        "[01/06 10:00:00] ppdet.utils.checkpoint INFO: Finish loading model weights: output/model.pdparams",
        "W0106 10:00:00.123456 12345 gpu_resources.cc:119] Please NOTE: device: 0, GPU Compute Capability: 8.0, "
        "Driver API Version: 12.2, Runtime API Version: 11.8",
        "W0106 10:00:00.123789 12345 gpu_resources.cc:164] device: 0, cuDNN Version: 8.9.",
    ]
    for epoch in (0, 1):
        for step in (0, 20, 40):
            loss = 3.0 - epoch - step / 100
            meters = f"loss: {loss:.6f} loss_cls: {loss / 2:.6f} loss_bbox: {loss / 4:.6f}"
            lines.append(
                f"[01/06 10:0{epoch}:{step:02d}] ppdet.engine INFO: Epoch: [{epoch}] [{step:2d}/50] "
                f"learning_rate: {0.0001 * (step + 1):.6f} {meters} eta: {_eta(600 - step)} "
                f"batch_cost: 0.4950 data_cost: 0.0010 ips: 16.1616 images/s"
            )
        lines.append(f"[01/06 10:0{epoch}:59] ppdet.engine INFO: Eval iter: 0")
        lines.append(f"[01/06 10:0{epoch}:59] ppdet.metrics.metrics INFO: Accumulating evaluatation results...")
        lines.append(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.380")
    return "\n".join(lines) + "\n"


def ppcls() -> str:
    lines = ["[2025/01/06 10:00:00] ppcls INFO: train with paddle 3.2.0 and device Place(cpu)"]
    for epoch in (1, 2):
        for iter_id in (0, 10, 20):
            loss = 6.9 - epoch - iter_id / 10
            lines.append(
                f"[2025/01/06 10:0{epoch}:{iter_id:02d}] ppcls INFO: [Train][Epoch {epoch}/2][Iter: {iter_id}/25]"
                f"lr(PiecewiseDecay): 0.10000000, top1: 0.{iter_id:02d}000, top5: 0.{iter_id + 5:02d}000, "
                f"CELoss: {loss:.5f}, loss: {loss:.5f}, batch_cost: 0.12345s, reader_cost: 0.01234, "
                f"ips: 259.21530 samples/s, eta: {_eta(1000 - iter_id)}"
            )
        lines.append(
            f"[2025/01/06 10:0{epoch}:40] ppcls INFO: [Eval][Epoch {epoch}][Iter: 0/4]CELoss: 6.80000, "
            "loss: 6.80000, top1: 0.00100, top5: 0.00500, batch_cost: 0.30000s, reader_cost: 0.10000, "
            "ips: 100.00000 images/sec"
        )
        lines.append(
            f"[2025/01/06 10:0{epoch}:41] ppcls INFO: [Eval][Epoch {epoch}][Avg]CELoss: 6.7{epoch}000, "
            f"loss: 6.7{epoch}000, top1: 0.0{epoch}000, top5: 0.0{epoch + 4}000"
        )
        lines.append(f"[2025/01/06 10:0{epoch}:41] ppcls INFO: [Eval][Epoch {epoch}][best metric: 0.0{epoch}000]")
    return "\n".join(lines) + "\n"


def main() -> None:
    for name, text in (("ppocr_train.log", ppocr()), ("ppdet_train.log", ppdet()), ("ppcls_train.log", ppcls())):
        (HERE / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
