//! The deterministic benchmark workload generator (../shared/WORKLOAD.md).
//!
//! ```text
//! cargo run --release --example generate -- --size small|medium [--seed N] [--out FILE]
//!                                           [--twins N] [--hours H]
//! ```
//!
//! NDJSON on stdout (or `--out`), one flattened twin-update record per line, carrying only the
//! properties whose rounded value changed (the first record of a twin carries them all):
//!
//! - 50 % thermostats: Temperature (2 decimals, a slow drift plus a daily cycle around the
//!   Setpoint), Humidity (1 decimal), Setpoint (changes about 4 times a day), Mode (one of
//!   off/heat/cool/auto/eco, about twice a day), Heating (bool, follows Temperature vs Setpoint);
//! - 30 % meters: Power (2 decimals) and Energy (Wh, a Long that only grows, sent with Power);
//! - 20 % rooms: Occupied (bool), CO2 (Long, rounded to 5 ppm), `Front.Temperature`.
//!
//! Each twin samples every 5-60 s (a period per twin, ±30 % jitter per interval, millisecond
//! times); a sensor re-reads its value with a per-property probability per sample, which sets
//! how many records and points the workload has (tuned to the table in WORKLOAD.md). Lines are
//! in arrival order: arrival = event time + 0-1.5 s, except 1 % that arrive 30-300 s late.
//! The same seed gives byte-identical output.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::error::Error;
use std::f64::consts::TAU;
use std::io::Write;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 2026-01-01T00:00:00Z in epoch milliseconds.
const START_MS: i64 = 1_767_225_600_000;
const DAY_MS: f64 = 86_400_000.0;
const MODES: [&str; 5] = ["off", "heat", "cool", "auto", "eco"];

/// What kind of twin, with its current sensor state.
enum Kind {
    Thermostat {
        temperature: f64,
        humidity: f64,
        setpoint: f64,
        mode: usize,
        heating: bool,
        drift: f64,
    },
    Meter {
        power: f64,
        energy: i64,
    },
    Room {
        occupied: bool,
        co2: i64,
        front_temperature: f64,
    },
}

/// One twin's generator: its id, sampling period, clock and state.
struct Twin {
    id: String,
    period_ms: f64,
    next_ms: f64,
    last_ms: f64,
    first: bool,
    phase: f64,
    rng: ChaCha8Rng,
    kind: Kind,
}

/// Rounds to `decimals` places.
fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

impl Twin {
    fn new(index: usize, twins: usize, seed: u64) -> Twin {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let thermostats = twins / 2;
        let meters = twins * 3 / 10;
        let (id, kind) = if index < thermostats {
            let setpoint = 20.0 + 0.5 * rng.random_range(0..5) as f64;
            let kind = Kind::Thermostat {
                temperature: round(setpoint - 1.0, 2),
                humidity: round(rng.random_range(35.0..55.0), 1),
                setpoint,
                mode: rng.random_range(0..MODES.len()),
                heating: false,
                drift: rng.random_range(-0.5..0.5),
            };
            (format!("thermostat-{index:05}"), kind)
        } else if index < thermostats + meters {
            let kind = Kind::Meter {
                power: round(rng.random_range(0.1..3.0), 2),
                energy: rng.random_range(100_000..5_000_000),
            };
            (format!("meter-{:05}", index - thermostats), kind)
        } else {
            let kind = Kind::Room {
                occupied: rng.random_bool(0.3),
                co2: 400 + 5 * rng.random_range(0..20),
                front_temperature: round(rng.random_range(18.0..23.0), 2),
            };
            (format!("room-{:05}", index - thermostats - meters), kind)
        };
        let period_ms: f64 = rng.random_range(5_000.0..60_000.0);
        let next_ms: f64 = rng.random_range(0.0..period_ms).floor();
        Twin {
            id,
            period_ms,
            next_ms,
            last_ms: next_ms,
            first: true,
            phase: rng.random_range(0.0..TAU),
            rng,
            kind,
        }
    }

    /// Takes a sample at `self.next_ms`; writes a record into `line` when a value changed.
    /// Returns the number of properties written (0: no record).
    fn sample(&mut self, line: &mut String) -> usize {
        use std::fmt::Write as _;
        let t = self.next_ms;
        let dt = t - self.last_ms;
        self.last_ms = t;
        let day = t / DAY_MS;
        let first = self.first;
        self.first = false;
        let rng = &mut self.rng;
        let mut props = String::new();
        let mut count = 0;
        let mut put = |props: &mut String, text: std::fmt::Arguments<'_>| {
            props.push(',');
            let _ = props.write_fmt(text);
            count += 1;
        };
        match &mut self.kind {
            Kind::Thermostat {
                temperature,
                humidity,
                setpoint,
                mode,
                heating,
                drift,
            } => {
                // Setpoint ~4 changes a day, Mode ~2; sensors re-read with fixed odds.
                let new_setpoint = if rng.random_bool((4.0 * dt / DAY_MS).min(1.0)) {
                    20.0 + 0.5 * rng.random_range(0..5) as f64
                } else {
                    *setpoint
                };
                let new_mode = if rng.random_bool((2.0 * dt / DAY_MS).min(1.0)) {
                    rng.random_range(0..MODES.len())
                } else {
                    *mode
                };
                *drift += rng.random_range(-0.02..0.02);
                *drift = drift.clamp(-1.0, 1.0);
                let new_temperature = if rng.random_bool(0.225) {
                    let cycle = 0.8 * (TAU * day + self.phase).sin();
                    round(new_setpoint - 0.6 + cycle + *drift + rng.random_range(-0.03..0.03), 2)
                } else {
                    *temperature
                };
                let new_humidity = if rng.random_bool(0.065) {
                    round((*humidity + rng.random_range(-0.4..0.4)).clamp(20.0, 80.0), 1)
                } else {
                    *humidity
                };
                let new_heating = new_temperature < new_setpoint - 0.3;
                if first || new_temperature != *temperature {
                    put(&mut props, format_args!("\"Temperature\":{new_temperature:.2}"));
                }
                if first || new_humidity != *humidity {
                    put(&mut props, format_args!("\"Humidity\":{new_humidity:.1}"));
                }
                if first || new_setpoint != *setpoint {
                    put(&mut props, format_args!("\"Setpoint\":{new_setpoint:.2}"));
                }
                if first || new_mode != *mode {
                    put(&mut props, format_args!("\"Mode\":\"{}\"", MODES[new_mode]));
                }
                if first || new_heating != *heating {
                    put(&mut props, format_args!("\"Heating\":{new_heating}"));
                }
                (*temperature, *humidity, *setpoint, *mode, *heating) =
                    (new_temperature, new_humidity, new_setpoint, new_mode, new_heating);
            }
            Kind::Meter { power, energy } => {
                // Energy integrates the power drawn since the last sample.
                *energy += (*power * 1000.0 * dt / 3_600_000.0).round() as i64;
                if first || rng.random_bool(0.225) {
                    let new_power = round((*power + rng.random_range(-0.3..0.3)).clamp(0.0, 5.0), 2);
                    if first || new_power != *power {
                        *power = new_power;
                        put(&mut props, format_args!("\"Power\":{new_power:.2}"));
                        put(&mut props, format_args!("\"Energy\":{energy}"));
                    }
                }
            }
            Kind::Room {
                occupied,
                co2,
                front_temperature,
            } => {
                let new_occupied = if rng.random_bool((6.0 * dt / DAY_MS).min(1.0)) {
                    !*occupied
                } else {
                    *occupied
                };
                let new_co2 = if rng.random_bool(0.225) {
                    let target = if new_occupied { 800.0 } else { 420.0 };
                    let next = *co2 as f64 + (target - *co2 as f64) * 0.05 + rng.random_range(-15.0..15.0);
                    ((next / 5.0).round() as i64 * 5).clamp(350, 2000)
                } else {
                    *co2
                };
                let new_front = if rng.random_bool(0.085) {
                    round(*front_temperature + rng.random_range(-0.1..0.1), 2)
                } else {
                    *front_temperature
                };
                if first || new_occupied != *occupied {
                    put(&mut props, format_args!("\"Occupied\":{new_occupied}"));
                }
                if first || new_co2 != *co2 {
                    put(&mut props, format_args!("\"CO2\":{new_co2}"));
                }
                if first || new_front != *front_temperature {
                    put(&mut props, format_args!("\"Front.Temperature\":{new_front:.2}"));
                }
                (*occupied, *co2, *front_temperature) = (new_occupied, new_co2, new_front);
            }
        }
        // The next sample: the period with ±30 % jitter, on whole milliseconds.
        self.next_ms = (t + self.period_ms * self.rng.random_range(0.7..1.3)).floor();
        if count > 0 {
            line.clear();
            let ts = jiff::Timestamp::from_millisecond(START_MS + t as i64).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            let _ = write!(line, "{{\"$dtId\":\"{}\",\"$ts\":\"{ts:.3}\"{props}}}\n", self.id);
        }
        count
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (mut twins, mut hours) = match arg("--size").as_deref() {
        None | Some("small") => (1_000usize, 24.0f64),
        Some("medium") => (10_000, 24.0),
        Some(other) => return Err(format!("unknown --size {other:?} (small or medium)").into()),
    };
    if let Some(n) = arg("--twins") {
        twins = n.parse()?;
    }
    if let Some(h) = arg("--hours") {
        hours = h.parse()?;
    }
    let seed: u64 = arg("--seed").map_or(Ok(1), |s| s.parse())?;
    let out: Box<dyn Write> = match arg("--out") {
        Some(path) => Box::new(std::fs::File::create(path)?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    let end_ms = hours * 3_600_000.0;

    let mut gens: Vec<Twin> = (0..twins).map(|i| Twin::new(i, twins, seed)).collect();
    // Samples in event-time order (ties by twin index), then lines in arrival order: a line
    // is written once no later sample can arrive before it.
    let mut by_time: BinaryHeap<Reverse<(i64, usize)>> = gens
        .iter()
        .enumerate()
        .map(|(i, g)| Reverse((g.next_ms as i64, i)))
        .collect();
    let mut pending: BinaryHeap<Reverse<(i64, u64, String)>> = BinaryHeap::new();
    let mut arrival_rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(0xA441));
    let (mut records, mut points, mut bytes, mut order) = (0u64, 0u64, 0u64, 0u64);
    let mut line = String::new();
    while let Some(Reverse((t, i))) = by_time.pop() {
        if (t as f64) >= end_ms {
            continue;
        }
        while let Some(Reverse((arrival, _, _))) = pending.peek()
            && *arrival <= t
        {
            if let Some(Reverse((_, _, text))) = pending.pop() {
                out.write_all(text.as_bytes())?;
            }
        }
        let written = gens[i].sample(&mut line);
        if written > 0 {
            let delay = if arrival_rng.random_bool(0.01) {
                arrival_rng.random_range(30_000..300_000)
            } else {
                arrival_rng.random_range(0..1_500)
            };
            records += 1;
            points += written as u64;
            bytes += line.len() as u64;
            order += 1;
            pending.push(Reverse((t + delay, order, line.clone())));
        }
        by_time.push(Reverse((gens[i].next_ms as i64, i)));
    }
    while let Some(Reverse((_, _, text))) = pending.pop() {
        out.write_all(text.as_bytes())?;
    }
    out.flush()?;
    eprintln!("{twins} twins, {hours} h: {records} records, {points} points, {bytes} bytes");
    Ok(())
}
