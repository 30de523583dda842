"""Calibrate the synthetic price source on the real CENACE files (not part of the package).

    .venv/bin/python bench/calibrate_synthetic.py            # data vs generator, side by side
    .venv/bin/python bench/calibrate_synthetic.py --fit      # also print the fitted constants

`--fit` prints every statistic that ``prices/synthetic/model.py`` hard-codes, derived from
``data/cenace/`` (see docs/synthetic-prices.md for what each one is and how it is
used). The comparison runs the generator over exactly the zones, systems, processes and dates
of each real file and prints the same statistics for both.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import sys
from collections import defaultdict
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "data" / "cenace"

F_2016 = "pend_MDA_2016-01-27_2017-06-30_7zonas_jluisfgarza.csv"
F_2017_MTR = "pend_MTR_2017-01-11_2017-06-30_7zonas_jluisfgarza.csv"
F_2020 = "pend_MDA_MTR_2020-08_26zonas_occidental_oscarflores.csv"
F_2026 = "pend_MDA_2026-06-25_2026-07-01_108zonas_atlas-sen.csv"

#: Yucatán peninsula zones (congestion-driven spikes).
PENINSULA = frozenset(
    {"CAMPECHE", "CANCUN", "CARMEN", "CHETUMAL", "MERIDA", "MOTUL TIZIMIN", "RIVIERA MAYA", "TICUL"}
)

Key = tuple[str, str, str]  # (system, process, zone)
Series = dict[Key, dict[dt.date, np.ndarray]]


def load(name: str) -> Series:
    """Every complete zone-day of a file: {(system, process, zone): {date: prices by hour}}."""
    raw: dict[Key, dict[dt.date, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    with gzip.open(DATA / f"{name}.gz", "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            key = (row["sistema"], row["proceso"], row["zona_carga"])
            raw[key][dt.date.fromisoformat(row["fecha"])][int(row["hora"])] = float(row["pz"])
    out: Series = {}
    for key, days in raw.items():
        clean = {}
        for date, hours in days.items():
            prices = np.array([hours[h] for h in sorted(hours)])
            # SIN MTR 2017-01-23 h5 is all zeros in every zone: a missing value, not a price.
            if sorted(hours) == list(range(1, len(hours) + 1)) and prices.min() > 0:
                clean[date] = prices
        out[key] = dict(sorted(clean.items()))
    return out


def days24(series: Series, *, systems: Iterable[str], zones: Iterable[str] | None = None):
    """(keys, dates, log-prices Nx24) of the 24-hour days of the chosen systems/zones."""
    systems, zone_set = set(systems), None if zones is None else set(zones)
    keys, dates, rows = [], [], []
    for key, days in series.items():
        if key[0] not in systems or (zone_set is not None and key[2] not in zone_set):
            continue
        for date, prices in days.items():
            if len(prices) == 24:
                keys.append(key)
                dates.append(date)
                rows.append(np.log(prices))
    return keys, dates, np.array(rows).reshape(-1, 24)


# --- statistics (applied identically to real and synthetic prices) -----------------------------


def log_profile(logp: np.ndarray) -> np.ndarray:
    """log of the mean normalised hourly profile (price / day mean), zero-mean in exp terms."""
    norm = np.exp(logp) / np.exp(logp).mean(axis=1, keepdims=True)
    return np.log(norm.mean(axis=0))


def residuals(logp: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """Hourly log residual after the day's mean level and the mean profile."""
    return logp - np.log(np.exp(logp).mean(axis=1, keepdims=True)) - profile


def ar1(x: np.ndarray) -> tuple[float, float]:
    """(lag-1 autocorrelation along the last axis, standard deviation)."""
    x = x - x.mean()
    return float((x[..., 1:] * x[..., :-1]).mean() / (x * x).mean()), float(x.std())


def daily_log_returns(series: Series, *, systems: Iterable[str]) -> np.ndarray:
    """Day-to-day changes of log daily mean price, consecutive days only, every zone."""
    out = []
    for key, days in series.items():
        if key[0] not in set(systems):
            continue
        dates = list(days)
        lm = np.array([np.log(days[d].mean()) for d in dates])
        gap = np.array([(b - a).days for a, b in pairwise(dates)])
        out.append(np.diff(lm)[gap == 1])
    return np.concatenate(out) if out else np.zeros(0)


def summary(series: Series, *, systems: Iterable[str], zones: Iterable[str] | None = None):
    """The side-by-side statistics of one slice of a file."""
    systems = list(systems)
    keys, _, logp = days24(series, systems=systems, zones=zones)
    profile = log_profile(logp)
    res = residuals(logp, profile)
    zone_medians = {}
    for key, days in series.items():
        if key[0] in systems and (zones is None or key[2] in set(zones)):
            zone_medians[key[2]] = float(np.median(np.concatenate(list(days.values()))))
    sel = {k: v for k, v in series.items() if zones is None or k[2] in set(zones)}
    phi_h, sd_h = ar1(res)
    return {
        "zone-days": len(keys),
        "median": float(np.median(list(zone_medians.values()))),
        "zone_medians": zone_medians,
        "profile": np.exp(profile),
        "peak/valley": float(np.exp(profile.max() - profile.min())),
        "daily ret sd": float(daily_log_returns(sel, systems=systems).std()),
        "hourly sd": sd_h,
        "hourly phi": phi_h,
        "spikes >2x": float((res > np.log(2)).mean()),
        "spikes >1.5x": float((res > np.log(1.5)).mean()),
        "dips <0.5x": float((res < -np.log(2)).mean()),
    }


# --- fitting -----------------------------------------------------------------------------------


def fit(d16: Series, d17: Series, d20: Series, d26: Series) -> None:
    print("# ---- fitted constants ------------------------------------------------------")
    # Hourly profiles per system and era (anchor = mid-point of the file's dates, in years).
    eras = {
        "SIN": [(2016.9, d16), (2020.6, d20), (2026.5, d26)],
        "BCA": [(2016.9, d16), (2026.5, d26)],
        "BCS": [(2016.9, d16), (2026.5, d26)],
    }
    for system, anchors in eras.items():
        for year, series in anchors:
            _, _, logp = days24(series, systems=[system])
            logp = logp[np.isfinite(logp).all(axis=1)]
            keys, _, _ = days24(series, systems=[system])
            prof = log_profile(logp)
            print(f"profile {system} {year}: ({', '.join(f'{v:.3f}' for v in prof)})")

    # Weekday and season (2016-17 MDA: 17 months), per system.
    for system in ("SIN", "BCA", "BCS"):
        dev_by_dow: list[list[float]] = [[] for _ in range(7)]
        months_t, months_lm = [], []
        resid_all = []
        for key, days in d16.items():
            if key[0] != system:
                continue
            dates = list(days)
            lm = np.array([np.log(days[d].mean()) for d in dates])
            ym = np.array([d.year * 12 + d.month - 1 for d in dates])
            mmean = {m: lm[ym == m].mean() for m in np.unique(ym)}
            res = lm - np.array([mmean[m] for m in ym])
            for d, r in zip(dates, res, strict=True):
                dev_by_dow[d.weekday()].append(r)
            for m, v in mmean.items():
                if (ym == m).sum() >= 20:
                    months_t.append(m / 12 + 1 / 24)
                    months_lm.append(v)
            resid_all.append((dates, res))
        wd = np.array([np.mean(v) for v in dev_by_dow])
        wd -= wd.mean()
        print(f"weekday {system} (Mon..Sun, log): ({', '.join(f'{v:.3f}' for v in wd)})")
        # log monthly mean = c_zone-free + slope·t + Fourier(2 harmonics of the year fraction)
        t = np.array(months_t)
        frac = t % 1.0
        design = np.column_stack(
            [
                np.ones_like(t),
                t - t.mean(),
                np.cos(2 * np.pi * frac),
                np.sin(2 * np.pi * frac),
                np.cos(4 * np.pi * frac),
                np.sin(4 * np.pi * frac),
            ]
        )
        coef, *_ = np.linalg.lstsq(design, np.array(months_lm), rcond=None)
        print(
            f"season {system} (cos1, sin1, cos2, sin2): "
            f"({', '.join(f'{v:.3f}' for v in coef[2:])}); trend {coef[1]:+.3f}/yr (dropped); "
            f"month residual sd {np.std(np.array(months_lm) - design @ coef):.3f}"
        )
        # Daily AR(1) of the log daily mean after month and weekday.
        phis, sds = [], []
        for dates, res in resid_all:
            r = res - wd[[d.weekday() for d in dates]]
            consecutive = np.array([(b - a).days == 1 for a, b in pairwise(dates)])
            x = r - r.mean()
            phis.append(float((x[1:] * x[:-1])[consecutive].mean() / (x * x).mean()))
            sds.append(float(x.std()))
        print(f"daily AR(1) {system}: phi {np.mean(phis):.2f}, sd {np.mean(sds):.3f}")

    # Share of day-level and hour-level noise common to the SIN zones (2016-17, 5 zones).
    per_zone = {k[2]: v for k, v in d16.items() if k[0] == "SIN"}
    common = sorted(set.intersection(*[set(v) for v in per_zone.values()]))
    lm = np.array([[np.log(per_zone[z][d].mean()) for d in common] for z in per_zone])
    dr = np.diff(lm, axis=1)
    c = np.corrcoef(dr)
    print(f"SIN day-level correlation between zones: {c[np.triu_indices(len(c), 1)].mean():.2f}")
    _, _, lp = days24(d16, systems=["SIN"])
    prof = log_profile(lp)
    common24 = [d for d in common if all(len(per_zone[z][d]) == 24 for z in per_zone)]
    rz = np.array(
        [[residuals(np.log(per_zone[z][d])[None, :], prof)[0] for d in common24] for z in per_zone]
    ).reshape(len(per_zone), -1)
    c = np.corrcoef(rz)
    print(f"SIN hour-level correlation between zones: {c[np.triu_indices(len(c), 1)].mean():.2f}")

    # Day-to-day variation of the profile's amplitude (slope of each day's shape on the mean).
    for system in ("SIN", "BCA", "BCS"):
        slopes = []
        for series in (d16, d20, d26):
            _, _, lp = days24(series, systems=[system])
            if len(lp) == 0:
                continue
            prof = log_profile(lp)
            shape = lp - lp.mean(axis=1, keepdims=True)
            p = prof - prof.mean()
            slopes.append(float(np.log(np.clip(shape @ p / (p @ p), 0.05, None)).std()))
        print(f"profile amplitude log-sd {system}: {np.mean(slopes):.2f} (per era {slopes})")

    # Hourly noise and spikes per system and era.
    for system in ("SIN", "BCA", "BCS"):
        for label, series in (("2016-17", d16), ("2020-08", d20), ("2026", d26)):
            keys, _, lp = days24(series, systems=[system])
            if len(lp) == 0:
                continue
            pen = np.array([k[2] in PENINSULA for k in keys])
            res = residuals(lp, log_profile(lp))
            for name, mask in (("", ~pen), (" peninsula", pen)):
                if mask.sum() == 0:
                    continue
                r = res[mask]
                phi, sd = ar1(r)
                up = r[r > np.log(1.5)] - np.log(1.5)
                print(
                    f"hourly {system} {label}{name}: sd {sd:.3f} phi {phi:.2f}; "
                    f">1.5x {(r > np.log(1.5)).mean():.4f} (mean log excess "
                    f"{up.mean() if up.size else 0:.2f}), >2x {(r > np.log(2)).mean():.4f}, "
                    f"<0.67x {(r < -np.log(1.5)).mean():.4f}"
                )

    # Per-zone level, profile amplitude and spikiness from the 2026 week (all 108 zones).
    print("zones 2026: name system median amplitude spike_ratio")
    for system in ("SIN", "BCA", "BCS"):
        keys, _, lp = days24(d26, systems=[system])
        prof = log_profile(lp)
        p = prof - prof.mean()
        res = residuals(lp, prof)
        names = np.array([k[2] for k in keys])
        base = (res[~np.isin(names, list(PENINSULA))] > np.log(1.5)).mean()
        for zone in sorted(set(names)):
            m = names == zone
            zprof = log_profile(lp[m])
            amp = float((zprof - zprof.mean()) @ p / (p @ p))
            zres = residuals(lp[m], zprof)
            # Floored at 1: one quiet week is no evidence of fewer spikes than usual.
            ratio = max(1.0, (zres > np.log(1.5)).mean() / max(base, 1e-3))
            med = float(np.median(np.exp(lp[m])))
            print(f'    "{zone}": ({med:.1f}, {amp:.2f}, {ratio:.1f}),  # {system}')

    level_bias(d26)

    # MTR around MDA: log(MTR / MDA) for the same zone and hour.
    for label, mda, mtr in (("2017", d16, d17), ("2020-08", d20, d20)):
        for system in ("SIN", "BCA", "BCS"):
            rows = []
            for (s, p, z), days in mtr.items():
                if s != system or p != "MTR" or (s, "MDA", z) not in mda:
                    continue
                for d, prices in days.items():
                    other = mda[(s, "MDA", z)].get(d)
                    if other is not None and len(other) == len(prices) == 24:
                        rows.append(np.log(prices / other))
            if not rows:
                continue
            lr = np.array(rows)
            day = lr.mean(axis=1, keepdims=True)
            phi, sd = ar1(lr - day)
            print(
                f"MTR/MDA {system} {label}: mean log {lr.mean():+.3f}, day-level sd "
                f"{day.std():.3f}, hourly sd {sd:.3f} phi {phi:.2f}, "
                f"|ratio|>1.5x {(np.abs(lr) > np.log(1.5)).mean():.4f}"
            )


def level_bias(d26: Series) -> None:
    """Remaining log bias of the generator's median against the real 2026 medians, averaged over
    40 years of the same calendar week (so that noise averages out); subtract it from
    ``level_log_correction``."""
    from prices.base import PriceQuery, System
    from prices.synthetic import SyntheticSource

    source = SyntheticSource()
    for system in ("SIN", "BCA", "BCS"):
        logs = []
        for (s, _, zone), days in d26.items():
            if s != system:
                continue
            real = float(np.median(np.concatenate(list(days.values()))))
            gen = []
            for year in range(2027, 2067):
                query = PriceQuery(
                    zone=zone,
                    system=System(system),
                    start=dt.date(year, 6, 25),
                    end=dt.date(year, 7, 1),
                )
                gen.extend(p for m in source.fetch(query) for p in m.prices_mxn_per_mwh)
            logs.append(np.log(np.median(gen) / real))
        bias = float(np.median(logs))
        print(
            f"level bias {system}: log(gen/real) {bias:+.3f}, so add {-bias:.3f} to the correction"
        )


# --- comparison --------------------------------------------------------------------------------


def synthetic_like(series: Series) -> Series:
    """The generator's prices for exactly the zones, processes and dates of a real file."""
    from prices.base import PriceQuery, Process, System
    from prices.synthetic import SyntheticSource

    source = SyntheticSource()
    out: Series = {}
    for (system, process, zone), days in series.items():
        if not days:
            continue
        dates = list(days)
        query = PriceQuery(
            zone=zone,
            system=System(system),
            process=Process(process),
            start=dates[0],
            end=dates[-1],
        )
        got = {m.date: np.array(m.prices_mxn_per_mwh) for m in source.fetch(query)}
        out[(system, process, zone)] = {d: got[d] for d in dates}
    return out


def compare(d16: Series, d17: Series, d20: Series, d26: Series) -> None:
    print("# ---- real (data) vs synthetic (gen) ------------------------------------------")
    cases = [
        ("2016-17 MDA SIN (5 zones)", d16, ["SIN"], None),
        ("2016-17 MDA BCA MEXICALI", d16, ["BCA"], None),
        ("2016-17 MDA BCS LA PAZ", d16, ["BCS"], None),
        ("2017 MTR SIN (5 zones)", d17, ["SIN"], None),
        (
            "2020-08 MDA SIN (26 zones)",
            {k: v for k, v in d20.items() if k[1] == "MDA"},
            ["SIN"],
            None,
        ),
        (
            "2020-08 MTR SIN (26 zones)",
            {k: v for k, v in d20.items() if k[1] == "MTR"},
            ["SIN"],
            None,
        ),
        ("2026 week SIN non-peninsula", d26, ["SIN"], {k[2] for k in d26} - PENINSULA),
        ("2026 week SIN peninsula (8)", d26, ["SIN"], PENINSULA),
        ("2026 week BCA (4 zones)", d26, ["BCA"], None),
        ("2026 week BCS (3 zones)", d26, ["BCS"], None),
    ]
    stats = ["median", "peak/valley", "daily ret sd", "hourly sd", "hourly phi"]
    stats += ["spikes >1.5x", "spikes >2x", "dips <0.5x"]
    header = f"{'slice':30} {'stat':13} {'data':>9} {'gen':>9}"
    print(header)
    for label, series, systems, zones in cases:
        real = summary(series, systems=systems, zones=zones)
        gen = summary(synthetic_like(series), systems=systems, zones=zones)
        corr = float(np.corrcoef(real["profile"], gen["profile"])[0, 1])
        print(f"{label:30} {'zone-days':13} {real['zone-days']:9d} {gen['zone-days']:9d}")
        for stat in stats:
            digits = 4 if stat.startswith(("spikes", "dips")) else 3
            print(f"{'':30} {stat:13} {real[stat]:9.{digits}f} {gen[stat]:9.{digits}f}")
        ratios = [gen["zone_medians"][z] / m for z, m in real["zone_medians"].items()]
        print(
            f"{'':30} {'profile corr':13} {corr:9.3f}   zone median gen/data: "
            f"min {min(ratios):.2f} median {np.median(ratios):.2f} max {max(ratios):.2f}"
        )
    # MTR vs MDA, same zone and hour.
    for label, mda, mtr in (("2017", d16, d17), ("2020-08", d20, d20)):
        mtr_only = {k: v for k, v in mtr.items() if k[1] == "MTR"}
        gen_mtr, gen_mda = (
            synthetic_like(mtr_only),
            synthetic_like({(s, "MDA", z): v for (s, _, z), v in mtr_only.items()}),
        )
        for name, a, b in (("data", mtr_only, mda), ("gen", gen_mtr, gen_mda)):
            rows = []
            for (s, _, z), days in a.items():
                other_days = b.get((s, "MDA", z), {})
                for d, prices in days.items():
                    other = other_days.get(d)
                    if other is not None and len(other) == len(prices) == 24 and s == "SIN":
                        rows.append(np.log(prices / other))
            lr = np.array(rows)
            print(
                f"MTR/MDA SIN {label} {name:4}: mean log {lr.mean():+.3f} sd {lr.std():.3f} "
                f"|ratio|>1.5x {(np.abs(lr) > np.log(1.5)).mean():.4f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="print the fitted constants too")
    parser.add_argument("--no-compare", action="store_true", help="skip the comparison")
    args = parser.parse_args()
    d16, d17, d20, d26 = (load(f) for f in (F_2016, F_2017_MTR, F_2020, F_2026))
    if args.fit:
        fit(d16, d17, d20, d26)
    if not args.no_compare:
        compare(d16, d17, d20, d26)


if __name__ == "__main__":
    main()
