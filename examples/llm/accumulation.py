"""Gradient accumulation: one optimizer step's gradient from micro-batches, each its own
forward and backward, the gradients summed in ``model.weight.grad`` and ``model.bias.grad``.

The right step counts the non-ignored tokens of *all* micro-batches first and divides every
micro-batch's summed token losses by that total, so the accumulated gradient is the full batch's
mean.  Each function after it plants one mistake; the first is the one that lived in Hugging Face
transformers for over a year (each micro-batch's mean divided by the number of micro-batches,
wrong as soon as the micro-batches hold unequal numbers of non-ignored tokens):

    derive check-accum examples/llm/accumulation.py:accumulate
    derive check-accum examples/llm/accumulation.py:per_micro_batch_mean --dtype bfloat16
"""

import torch.nn.functional as F

IGNORE_INDEX = -100


def accumulate(model, micro_batches, ignore_index=IGNORE_INDEX):
    total = sum(int((target != ignore_index).sum()) for _, target in micro_batches)
    logged = 0.0
    for inputs, target in micro_batches:
        loss = F.cross_entropy(model(inputs), target, ignore_index=ignore_index,
                               reduction="sum") / total
        loss.backward()
        logged += loss.item()
    return logged


def per_micro_batch_mean(model, micro_batches):
    logged = 0.0
    for inputs, target in micro_batches:
        loss = F.cross_entropy(model(inputs), target, ignore_index=IGNORE_INDEX)
        loss = loss / len(micro_batches)  # BUG: a mean per micro-batch, then over micro-batches
        loss.backward()
        logged += loss.item()
    return logged


def micro_batches_missing(model, micro_batches):
    for inputs, target in micro_batches:
        loss = F.cross_entropy(model(inputs), target, ignore_index=IGNORE_INDEX)
        loss.backward()  # BUG: each micro-batch's mean, summed (not divided by their number)


def divided_twice(model, micro_batches):
    total = sum(int((target != IGNORE_INDEX).sum()) for _, target in micro_batches)
    logged = 0.0
    for inputs, target in micro_batches:
        loss = F.cross_entropy(model(inputs), target, ignore_index=IGNORE_INDEX)
        loss = loss / total  # BUG: already a mean over the micro-batch's tokens
        loss.backward()
        logged += loss.item()
    return logged


def zeroed_in_loop(model, micro_batches):
    total = sum(int((target != IGNORE_INDEX).sum()) for _, target in micro_batches)
    logged = 0.0
    for inputs, target in micro_batches:
        model.zero_grad()  # BUG: belongs before the loop; only the last micro-batch's survives
        loss = F.cross_entropy(model(inputs), target, ignore_index=IGNORE_INDEX,
                               reduction="sum") / total
        loss.backward()
        logged += loss.item()
    return logged


def ignored_counted(model, micro_batches):
    total = sum(target.numel() for _, target in micro_batches)  # BUG: padding counted too
    logged = 0.0
    for inputs, target in micro_batches:
        loss = F.cross_entropy(model(inputs), target, ignore_index=IGNORE_INDEX,
                               reduction="sum") / total
        loss.backward()
        logged += loss.item()
    return logged
