"""A data-producing program that uses libraries built on tqdm, run with its stdout piped
(``program > out.csv``): its stdout must hold only its own data."""

import joblib
from pqdm.threads import pqdm
from tqdm_joblib import tqdm_joblib

import mpprogress


def square(x: int) -> int:
    return x * x


def main() -> None:
    with mpprogress.session(), mpprogress.patch_tqdm():
        squares = pqdm(range(50), square, n_jobs=4, desc="pipe")
        for x, y in enumerate(squares):
            print(f"{x},{y}")
        with tqdm_joblib(desc="joblib pipe", total=30):
            more = joblib.Parallel(n_jobs=2, backend="threading")(joblib.delayed(square)(x) for x in range(30))
        for x, y in enumerate(more):
            print(f"{x},{y}")


if __name__ == "__main__":
    main()
