"""A small script written for tqdm; the ported-script test runs it as it is and with only its tqdm
import changed to mpprogress's, and compares what it prints."""

from concurrent.futures import ThreadPoolExecutor  # noqa: F401 - a typical import alongside tqdm

from tqdm import tqdm, trange
from tqdm.contrib.concurrent import thread_map


def checksum(words):
    total = 0
    for word in tqdm(words, desc="words", leave=False):
        total += sum(map(ord, word))
    return total


def main():
    lines = [f"line {i} " * (i % 7 + 1) for i in range(200)]
    sums = []
    with tqdm(total=len(lines), desc="lines", unit="line") as bar:
        for line in lines:
            sums.append(checksum(line.split()))
            bar.update(1)
            bar.set_postfix(last=sums[-1])
    doubled = thread_map(lambda x: x * 2, sums, max_workers=4, desc="doubling", tqdm_class=tqdm)
    for epoch in trange(3, desc="epochs"):
        tqdm.write(f"epoch {epoch}: {sum(doubled) + epoch}")
    print("total", sum(doubled))


if __name__ == "__main__":
    main()
