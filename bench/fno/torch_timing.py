"""What the PyTorch reference timings of bench/fno share: the legacy relative L2 loss, the
timed training epochs (a shuffled training pass plus the test evaluation, as in the
legacy scripts) and the JSON result lines. Imported by fno1d_torch.py and fno2d_torch.py,
which sit beside it."""
import json
import sys
import time

import torch


def rel_l2_sum(pred, target):
    """Legacy LpLoss (size_average=False): the relative L2 error summed over the batch."""
    b = pred.shape[0]
    diff = torch.norm(pred.reshape(b, -1) - target.reshape(b, -1), 2, 1)
    return torch.sum(diff / torch.norm(target.reshape(b, -1), 2, 1))


def timed_epochs(model, predict, opt, sched, xtr, ytr, xte, yte, args, label=None):
    """Train for args.epochs epochs; returns (wall s, CPU s) per epoch and the last test
    error (mean relative L2). With a label, each epoch's numbers go to stderr."""
    times, cpu, test = [], [], float("nan")
    ntrain, ntest = xtr.shape[0], xte.shape[0]
    for e in range(args.epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        model.train()
        perm = torch.randperm(ntrain)
        train = 0.0
        for b in range(0, ntrain, args.batch):
            idx = perm[b:b + args.batch]
            opt.zero_grad()
            loss = rel_l2_sum(predict(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            if label:
                train += loss.item()
        sched.step()
        model.eval()
        test = 0.0
        with torch.no_grad():
            for b in range(0, ntest, args.batch):
                test += rel_l2_sum(predict(xte[b:b + args.batch]), yte[b:b + args.batch]).item()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if label:
            print(f"torch {label}: epoch {e + 1}: {times[-1]:.2f} s, train rel L2 {train / ntrain:.4f}, "
                  f"test rel L2 {test / ntest:.4f}", file=sys.stderr, flush=True)
    return times, cpu, test / ntest


def print_results(base, nparams, times, cpu, test, epochs):
    """One JSON object per result line, each with the fields of `base`."""
    print(json.dumps({**base, "metric": "s_per_epoch_mean", "value": round(sum(times) / len(times), 3), "unit": "s"}))
    print(json.dumps({**base, "metric": "s_per_epoch_min", "value": round(min(times), 3), "unit": "s"}))
    print(json.dumps({**base, "metric": "cpu_s_per_epoch_mean", "value": round(sum(cpu) / len(cpu), 3), "unit": "s"}))
    print(json.dumps({**base, "metric": "params", "value": nparams}))
    print(json.dumps({**base, "metric": "test_rel_l2_after_epochs", "value": round(test, 5), "epochs": epochs}), flush=True)
