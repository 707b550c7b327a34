//! Generates the benchmark workload of `docs/WORKLOAD.md` ("The synthetic workload") as
//! NDJSON, deterministically: the same arguments give byte-identical output.
//!
//! ```text
//! cargo run --release --example generate -- --size small|medium [--seed N] [--out FILE]
//! cargo run --release --example generate -- --twins 20 --hours 2      # a tiny workload
//! ```
//!
//! The output goes to stdout unless `--out` is given; a summary (records, points, bytes) goes
//! to stderr.
//!
//! # The model
//!
//! - **Twins.** 50 % thermostats, 30 % meters, 20 % rooms, named `thermostat-00000`,
//!   `meter-00000`, `room-00000`, … (numbered within each kind). Each twin has its own random
//!   stream (ChaCha8, the seed plus the twin's index as stream number), so a twin's history
//!   does not depend on the others.
//! - **Sampling.** Each twin samples with a period drawn uniformly in 5–60 s; each interval is
//!   that period ±30 % (uniform), in whole milliseconds. The first sample falls uniformly in the
//!   first period, so twins do not start in lockstep. Time starts at 2026-01-01T00:00:00Z.
//! - **Values.** Each sample advances the physical model of the twin (a thermostat's drift and
//!   daily cycle around its setpoint, a meter's load profile and energy counter, a room's
//!   occupancy and CO2). A sensor does not re-measure every property on every sample: each
//!   measured property refreshes its reading with a fixed per-sample probability (the
//!   `REFRESH_*` constants, tuned so the record and point counts land on the table in
//!   docs/WORKLOAD.md). Discrete settings (Setpoint, Mode, Occupied) change as Poisson events with
//!   a rate per day.
//! - **Records.** A record carries only the properties whose rounded value changed since the
//!   twin's previous record (the first record carries all of them), and is emitted only if at
//!   least one did. A meter reports Energy only together with a changed Power.
//! - **Arrival order.** Each record arrives 0–1.5 s after its event time, except 1 % that
//!   arrive 30–300 s late. Lines are written in arrival order, so late records are out of
//!   order both per twin and globally. The merge holds only the records generated but not yet
//!   arrived, a few hundred, so memory stays small whatever the size.
//!
//! Rounded values are kept as scaled integers (hundredths of a degree, tenths of a percent),
//! which makes "the rounded value changed" an exact comparison and lets the writer print
//! fixed decimals without float formatting: a Double always has a decimal point (`21.00`), a
//! Long never has one, so a reader infers the right type.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;
use std::error::Error;
use std::f64::consts::TAU;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const USAGE: &str = "usage: generate --size small|medium [--seed N] [--out FILE] [--twins N] [--hours H]";

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;
/// 2026-01-01, the first event day, as days since 1970-01-01.
const START_DAY: i64 = 20_454;

/// Per-twin sampling period range, milliseconds.
const PERIOD_MS: (i64, i64) = (5_000, 60_000);
/// Each interval is the twin's period times a factor uniform in 1 ± this.
const INTERVAL_JITTER: f64 = 0.30;
/// A normal record arrives up to this long after its event time.
const PROMPT_DELAY_MS: i64 = 1_500;
/// The share of records that arrive late, and how late.
const LATE_SHARE: f64 = 0.01;
const LATE_DELAY_MS: (i64, i64) = (30_000, 300_000);

// Per-sample probabilities that a sensor refreshes a reading. Tuned so that the small and
// medium sizes land near ~0.94 M / ~9.3 M records and ~1.2 M / ~12.1 M points: thermostats
// give most records, meters two points per record (Power with Energy), rooms few records.
const REFRESH_TEMPERATURE: f64 = 0.26;
const REFRESH_HUMIDITY: f64 = 0.16;
const REFRESH_POWER: f64 = 0.19;
const REFRESH_CO2: f64 = 0.035;
const REFRESH_FRONT_TEMPERATURE: f64 = 0.015;

// Rates of the discrete changes, per day.
const SETPOINT_CHANGES_PER_DAY: f64 = 4.0;
const MODE_CHANGES_PER_DAY: f64 = 2.0;

const MODES: [&str; 5] = ["off", "heat", "cool", "auto", "eco"];

fn main() -> Result<(), Box<dyn Error>> {
    let config = Config::from_args().map_err(|e| format!("{e}\n{USAGE}"))?;
    let started = Instant::now();
    let sink: Box<dyn Write> = match &config.out {
        Some(path) => Box::new(File::create(path).map_err(|e| format!("{path}: {e}"))?),
        None => Box::new(io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 20, sink);
    let summary = match generate(&config, &mut out).and_then(|summary| out.flush().map(|()| summary)) {
        Ok(summary) => summary,
        // `generate … | head` closes the pipe early; that is not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} twins, {:.1} h, seed {}: {} records, {} points, {} series, {} late records, {} bytes ({:.1} MB) in {:.2} s",
        config.twins,
        config.span_ms as f64 / 3_600_000.0,
        config.seed,
        summary.records,
        summary.points,
        summary.series,
        summary.late_records,
        summary.bytes,
        summary.bytes as f64 / 1e6,
        secs
    );
    Ok(())
}

/// What to generate, from the command line.
struct Config {
    twins: usize,
    span_ms: i64,
    seed: u64,
    out: Option<String>,
}

impl Config {
    fn from_args() -> Result<Config, String> {
        let mut size: Option<String> = None;
        let mut twins: Option<usize> = None;
        let mut hours: Option<f64> = None;
        let mut seed = 42;
        let mut out = None;
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--size" => size = Some(value()?),
                "--seed" => seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
                "--out" => out = Some(value()?),
                "--twins" => twins = Some(value()?.parse().map_err(|e| format!("--twins: {e}"))?),
                "--hours" => hours = Some(value()?.parse().map_err(|e| format!("--hours: {e}"))?),
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other}")),
            }
        }
        // Both sizes span one day; they differ in the number of twins.
        let size_twins = match size.as_deref() {
            Some("small") => Some(1_000),
            Some("medium") => Some(10_000),
            Some(other) => return Err(format!("unknown size {other} (small or medium)")),
            None => None,
        };
        let twins = twins.or(size_twins).ok_or("give --size, or --twins (and --hours)")?;
        let hours = hours.unwrap_or(24.0);
        if !(hours > 0.0 && hours.is_finite()) {
            return Err("--hours must be positive".into());
        }
        Ok(Config {
            twins,
            span_ms: (hours * 3_600_000.0).round() as i64,
            seed,
            out,
        })
    }
}

/// Counts printed at the end.
#[derive(Default)]
struct Summary {
    records: u64,
    points: u64,
    series: u64,
    late_records: u64,
    bytes: u64,
}

/// A generated record: its NDJSON line and when it happened and arrives.
///
/// Ordered by arrival, then twin, then event time. That key is unique (a twin's event times
/// strictly increase), so `line` and `points` never take part in a comparison and the output
/// order is fully determined.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Record {
    arrival_ms: i64,
    twin: u32,
    event_ms: i64,
    line: Vec<u8>,
    points: u32,
}

/// Writes every twin's records in arrival order: a k-way merge over the twins.
///
/// `upcoming` holds each twin's next record, keyed by event time; `in_flight` holds records
/// taken from it and not yet written, keyed by arrival. A record can be written once its
/// arrival is earlier than every upcoming event time, since no record arrives before its event.
fn generate(config: &Config, out: &mut impl Write) -> io::Result<Summary> {
    let mut twins = make_twins(config);
    let mut summary = Summary::default();
    let mut fields = Vec::with_capacity(256);
    let mut spare_lines: Vec<Vec<u8>> = Vec::new();

    let mut upcoming: BinaryHeap<Reverse<(i64, u32)>> = BinaryHeap::with_capacity(twins.len());
    for (index, twin) in twins.iter_mut().enumerate() {
        if let Some(event_ms) = twin.prepare_next(config.span_ms, &mut fields, Vec::new()) {
            summary.series += twin.kind.property_count();
            upcoming.push(Reverse((event_ms, index as u32)));
        }
    }

    let mut in_flight: BinaryHeap<Reverse<Record>> = BinaryHeap::new();
    loop {
        let frontier_ms = upcoming.peek().map(|Reverse((event_ms, _))| *event_ms);
        if let Some(earliest) = in_flight.peek_mut()
            && frontier_ms.is_none_or(|frontier| earliest.0.arrival_ms < frontier)
        {
            let Reverse(record) = PeekMut::pop(earliest);
            out.write_all(&record.line)?;
            summary.records += 1;
            summary.points += u64::from(record.points);
            summary.bytes += record.line.len() as u64;
            if record.arrival_ms - record.event_ms > PROMPT_DELAY_MS {
                summary.late_records += 1;
            }
            spare_lines.push(record.line);
            continue;
        }
        // Nothing can be written yet: generate the twin whose next record happens first. When
        // no twin has records left, everything in flight has been written (the frontier is gone).
        let Some(Reverse((_, index))) = upcoming.pop() else {
            break;
        };
        let twin = &mut twins[index as usize];
        if let Some(record) = twin.next.take() {
            in_flight.push(Reverse(record));
        }
        let line = spare_lines.pop().unwrap_or_default();
        if let Some(event_ms) = twin.prepare_next(config.span_ms, &mut fields, line) {
            upcoming.push(Reverse((event_ms, index)));
        }
    }
    Ok(summary)
}

/// The twins of a workload: kinds in the 50/30/20 split, each numbered within its kind.
fn make_twins(config: &Config) -> Vec<Twin> {
    let thermostats = config.twins / 2;
    let meters = config.twins * 3 / 10;
    let rooms = config.twins - thermostats - meters;
    let kinds = [
        (Kind::Thermostat, thermostats),
        (Kind::Meter, meters),
        (Kind::Room, rooms),
    ];
    let mut twins = Vec::with_capacity(config.twins);
    for (kind, count) in kinds {
        for number in 0..count {
            let index = twins.len() as u32;
            twins.push(Twin::new(index, kind, number, config.seed));
        }
    }
    twins
}

#[derive(Clone, Copy)]
enum Kind {
    Thermostat,
    Meter,
    Room,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Thermostat => "thermostat",
            Kind::Meter => "meter",
            Kind::Room => "room",
        }
    }

    /// Properties per twin, so series = twins × this.
    fn property_count(self) -> u64 {
        match self {
            Kind::Thermostat => 5,
            Kind::Meter => 2,
            Kind::Room => 3,
        }
    }
}

/// One twin: its sampling clock, its sensor model and the record it will emit next.
struct Twin {
    kind: Kind,
    /// `"$dtId":"thermostat-00203","$ts":"` — the constant start of each of its lines.
    line_start: Vec<u8>,
    rng: ChaCha8Rng,
    period_ms: f64,
    next_sample_ms: i64,
    last_sample_ms: Option<i64>,
    sensor: Sensor,
    /// The record it emits next, once prepared.
    next: Option<Record>,
    /// Its position in the workload, the tie-breaker in the output order.
    index: u32,
}

impl Twin {
    /// Twin `index` of the workload, the `number`th of its kind.
    fn new(index: u32, kind: Kind, number: usize, seed: u64) -> Twin {
        // One ChaCha stream per twin: its history does not depend on how many twins there are
        // or in which order they are sampled.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(u64::from(index));
        let line_start = format!("{{\"$dtId\":\"{}-{number:05}\",\"$ts\":\"", kind.prefix()).into_bytes();
        let period_ms = rng.random_range(PERIOD_MS.0..=PERIOD_MS.1) as f64;
        let next_sample_ms = rng.random_range(0..period_ms as i64);
        let sensor = match kind {
            Kind::Thermostat => Sensor::Thermostat(Thermostat::new(&mut rng)),
            Kind::Meter => Sensor::Meter(Meter::new(&mut rng)),
            Kind::Room => Sensor::Room(Room::new(&mut rng)),
        };
        Twin {
            kind,
            line_start,
            rng,
            period_ms,
            next_sample_ms,
            last_sample_ms: None,
            sensor,
            next: None,
            index,
        }
    }

    /// Samples until a sample changes at least one rounded value and puts that record, written
    /// into `line`, in `self.next`. Returns its event time, or None when the span ends first.
    fn prepare_next(&mut self, span_ms: i64, fields: &mut Vec<u8>, mut line: Vec<u8>) -> Option<i64> {
        while self.next_sample_ms < span_ms {
            let event_ms = self.next_sample_ms;
            let first = self.last_sample_ms.is_none();
            let elapsed_ms = self.last_sample_ms.map_or(0, |last| event_ms - last);
            self.last_sample_ms = Some(event_ms);
            let stretch = self.rng.random_range(1.0 - INTERVAL_JITTER..=1.0 + INTERVAL_JITTER);
            self.next_sample_ms = event_ms + ((self.period_ms * stretch).round() as i64).max(1);

            fields.clear();
            let mut changes = Fields { out: fields, points: 0 };
            let sample = Sample {
                event_ms,
                elapsed_ms,
                first,
            };
            match &mut self.sensor {
                Sensor::Thermostat(t) => t.sample(&mut self.rng, sample, &mut changes),
                Sensor::Meter(m) => m.sample(&mut self.rng, sample, &mut changes),
                Sensor::Room(r) => r.sample(&mut self.rng, sample, &mut changes),
            }
            let points = changes.points;
            if points == 0 {
                continue;
            }

            line.clear();
            line.extend_from_slice(&self.line_start);
            push_timestamp(&mut line, event_ms);
            line.push(b'"');
            line.extend_from_slice(fields);
            line.extend_from_slice(b"}\n");
            let delay_ms = if self.rng.random_bool(LATE_SHARE) {
                self.rng.random_range(LATE_DELAY_MS.0..=LATE_DELAY_MS.1)
            } else {
                self.rng.random_range(0..=PROMPT_DELAY_MS)
            };
            self.next = Some(Record {
                arrival_ms: event_ms + delay_ms,
                twin: self.index,
                event_ms,
                line,
                points,
            });
            return Some(event_ms);
        }
        None
    }
}

/// When a sample is taken.
#[derive(Clone, Copy)]
struct Sample {
    event_ms: i64,
    /// Since the twin's previous sample; 0 for the first.
    elapsed_ms: i64,
    /// The first sample measures everything, so the first record carries every property.
    first: bool,
}

impl Sample {
    /// The probability that an event with `per_day` expected occurrences a day (a Poisson
    /// process) happens in the interval before this sample.
    fn chance(self, per_day: f64) -> f64 {
        1.0 - (-per_day * self.elapsed_ms as f64 / DAY_MS as f64).exp()
    }

    /// Hour of the day, 0.0 to 24.0.
    fn hour(self) -> f64 {
        self.event_ms.rem_euclid(DAY_MS) as f64 / 3_600_000.0
    }

    /// The daily cycle of indoor temperature: -1 at 03:00, +1 at 15:00.
    fn daily_cycle(self) -> f64 {
        (TAU * (self.hour() - 9.0) / 24.0).sin()
    }

    /// Whether the sensor re-measures a property in this sample.
    fn refreshes(self, rng: &mut ChaCha8Rng, probability: f64) -> bool {
        self.first || rng.random_bool(probability)
    }
}

enum Sensor {
    Thermostat(Thermostat),
    Meter(Meter),
    Room(Room),
}

/// A property's current rounded value and the value its twin last emitted.
struct Reading<T> {
    current: T,
    emitted: Option<T>,
}

impl<T: Copy + PartialEq> Reading<T> {
    fn new(current: T) -> Self {
        Reading { current, emitted: None }
    }

    /// The current value if it differs from the last emitted one (always, before the first
    /// record); it then counts as emitted.
    fn take_change(&mut self) -> Option<T> {
        if self.emitted == Some(self.current) {
            return None;
        }
        self.emitted = Some(self.current);
        Some(self.current)
    }
}

/// A thermostat: Temperature drifts and follows a daily cycle around the Setpoint; Heating is
/// the controller's decision on its own reading, with hysteresis.
struct Thermostat {
    /// Peak deviation of the daily cycle, °C.
    cycle_amplitude: f64,
    /// Slow deviation from the setpoint, °C (a mean-reverting random walk).
    drift: f64,
    /// The twin's mean relative humidity, %.
    humidity_mean: f64,
    mode: usize,
    temperature: Reading<i64>,
    humidity: Reading<i64>,
    setpoint: Reading<i64>,
    mode_reading: Reading<usize>,
    heating: Reading<bool>,
}

/// Setpoints are 18.00–23.00 °C in steps of 0.5, in hundredths.
fn random_setpoint(rng: &mut ChaCha8Rng) -> i64 {
    1_800 + 50 * rng.random_range(0..=10)
}

/// Heating switches on this far below the setpoint and off this far above, hundredths of °C.
const HEATING_HYSTERESIS: i64 = 25;

impl Thermostat {
    fn new(rng: &mut ChaCha8Rng) -> Thermostat {
        let mode = rng.random_range(0..MODES.len());
        Thermostat {
            cycle_amplitude: rng.random_range(0.5..2.0),
            drift: rng.random_range(-0.3..0.3),
            humidity_mean: rng.random_range(35.0..55.0),
            mode,
            // Measured on the first sample.
            temperature: Reading::new(0),
            humidity: Reading::new(0),
            setpoint: Reading::new(random_setpoint(rng)),
            mode_reading: Reading::new(mode),
            heating: Reading::new(false),
        }
    }

    fn sample(&mut self, rng: &mut ChaCha8Rng, sample: Sample, changes: &mut Fields) {
        if rng.random_bool(sample.chance(SETPOINT_CHANGES_PER_DAY)) {
            let current = self.setpoint.current;
            self.setpoint.current = loop {
                let setpoint = random_setpoint(rng);
                if setpoint != current {
                    break setpoint;
                }
            };
        }
        if rng.random_bool(sample.chance(MODE_CHANGES_PER_DAY)) {
            // Any of the other modes.
            self.mode = (self.mode + rng.random_range(1..MODES.len())) % MODES.len();
            self.mode_reading.current = self.mode;
        }
        self.drift = drift_step(rng, self.drift, sample.elapsed_ms, 0.05);

        let cycle = sample.daily_cycle();
        if sample.refreshes(rng, REFRESH_TEMPERATURE) {
            let celsius = self.setpoint.current as f64 / 100.0
                + self.cycle_amplitude * cycle
                + self.drift
                + rng.random_range(-0.05..0.05);
            self.temperature.current = scaled(celsius, 100.0);
        }
        if sample.refreshes(rng, REFRESH_HUMIDITY) {
            // Warmer air holds more water, so relative humidity falls as the day warms.
            let percent = (self.humidity_mean - 5.0 * cycle + rng.random_range(-0.5..0.5)).clamp(10.0, 90.0);
            self.humidity.current = scaled(percent, 10.0);
        }
        let (temperature, setpoint) = (self.temperature.current, self.setpoint.current);
        self.heating.current = match MODES[self.mode] {
            "off" | "cool" => false,
            _ if temperature < setpoint - HEATING_HYSTERESIS => true,
            _ if temperature > setpoint + HEATING_HYSTERESIS => false,
            _ => self.heating.current,
        };

        if let Some(v) = self.temperature.take_change() {
            changes.fixed("Temperature", v, 2);
        }
        if let Some(v) = self.humidity.take_change() {
            changes.fixed("Humidity", v, 1);
        }
        if let Some(v) = self.setpoint.take_change() {
            changes.fixed("Setpoint", v, 2);
        }
        if let Some(v) = self.mode_reading.take_change() {
            changes.string("Mode", MODES[v]);
        }
        if let Some(v) = self.heating.take_change() {
            changes.boolean("Heating", v);
        }
    }
}

/// An electricity meter: Power follows a daily load profile with noise; Energy integrates
/// the power between samples and only ever grows.
struct Meter {
    /// The household's typical load, kW.
    base_kw: f64,
    energy_wh: f64,
    power: Reading<i64>,
    energy: Reading<i64>,
}

impl Meter {
    fn new(rng: &mut ChaCha8Rng) -> Meter {
        let energy_wh = rng.random_range(100_000.0..5_000_000.0);
        Meter {
            base_kw: rng.random_range(0.1..1.5),
            energy_wh,
            // Measured on the first sample.
            power: Reading::new(0),
            energy: Reading::new(energy_wh as i64),
        }
    }

    fn sample(&mut self, rng: &mut ChaCha8Rng, sample: Sample, changes: &mut Fields) {
        let hour = sample.hour();
        // Night-time base load, a morning peak around 08:00 and an evening peak around 19:00.
        let profile = 0.6 + 0.5 * (-((hour - 8.0) / 1.5).powi(2)).exp() + 0.9 * (-((hour - 19.0) / 2.0).powi(2)).exp();
        let kw = (self.base_kw * profile * rng.random_range(0.8..1.2)).max(0.0);
        // kW × ms / 3600 = Wh.
        self.energy_wh += kw * sample.elapsed_ms as f64 / 3_600.0;
        self.energy.current = self.energy_wh.floor() as i64;
        if sample.refreshes(rng, REFRESH_POWER) {
            self.power.current = scaled(kw, 100.0);
        }
        // The meter reports its counter along with a new power reading, not on its own.
        if let Some(v) = self.power.take_change() {
            changes.fixed("Power", v, 2);
            if let Some(v) = self.energy.take_change() {
                changes.long("Energy", v);
            }
        }
    }
}

/// A room: occupancy comes and goes (mostly in office hours), CO2 rises toward a level set
/// by the occupants and decays toward outdoor air; the front of the room has its own
/// temperature sensor.
struct Room {
    occupied: Reading<bool>,
    /// CO2 the room settles at when occupied, ppm.
    occupied_co2_ppm: f64,
    co2_ppm: f64,
    co2: Reading<i64>,
    front_drift: f64,
    front_temperature: Reading<i64>,
}

/// CO2 of outdoor air, ppm, which an empty room decays toward.
const OUTDOOR_CO2_PPM: f64 = 420.0;
/// Time constant of the room's CO2 toward its target, ms.
const CO2_TIME_CONSTANT_MS: f64 = 20.0 * 60_000.0;

impl Room {
    fn new(rng: &mut ChaCha8Rng) -> Room {
        Room {
            // The day starts at midnight: most rooms are empty.
            occupied: Reading::new(rng.random_bool(0.1)),
            occupied_co2_ppm: rng.random_range(650.0..1_100.0),
            co2_ppm: OUTDOOR_CO2_PPM + rng.random_range(0.0..100.0),
            co2: Reading::new(0),
            front_drift: rng.random_range(-0.3..0.3),
            front_temperature: Reading::new(0),
        }
    }

    fn sample(&mut self, rng: &mut ChaCha8Rng, sample: Sample, changes: &mut Fields) {
        let office_hours = (8.0..18.0).contains(&sample.hour());
        let switches_per_day = match (self.occupied.current, office_hours) {
            (false, true) => 8.0,
            (false, false) => 1.0,
            (true, true) => 6.0,
            (true, false) => 12.0,
        };
        if rng.random_bool(sample.chance(switches_per_day)) {
            self.occupied.current = !self.occupied.current;
        }
        let target = if self.occupied.current {
            self.occupied_co2_ppm
        } else {
            OUTDOOR_CO2_PPM
        };
        let approach = 1.0 - (-(sample.elapsed_ms as f64) / CO2_TIME_CONSTANT_MS).exp();
        self.co2_ppm += (target - self.co2_ppm) * approach;
        if sample.refreshes(rng, REFRESH_CO2) {
            let ppm = self.co2_ppm + rng.random_range(-8.0..8.0);
            self.co2.current = 5 * scaled(ppm, 0.2);
        }
        self.front_drift = drift_step(rng, self.front_drift, sample.elapsed_ms, 0.03);
        if sample.refreshes(rng, REFRESH_FRONT_TEMPERATURE) {
            let celsius = 21.0 + 0.8 * sample.daily_cycle() + self.front_drift + rng.random_range(-0.05..0.05);
            self.front_temperature.current = scaled(celsius, 100.0);
        }

        if let Some(v) = self.occupied.take_change() {
            changes.boolean("Occupied", v);
        }
        if let Some(v) = self.co2.take_change() {
            changes.long("CO2", v);
        }
        if let Some(v) = self.front_temperature.take_change() {
            changes.fixed("Front.Temperature", v, 2);
        }
    }
}

/// One step of a mean-reverting random walk (pulled back toward 0 over about six hours), with
/// steps of up to `step_per_minute` scaled by the square root of the elapsed minutes.
fn drift_step(rng: &mut ChaCha8Rng, drift: f64, elapsed_ms: i64, step_per_minute: f64) -> f64 {
    const REVERSION_MS: f64 = 6.0 * 3_600_000.0;
    let pull = (elapsed_ms as f64 / REVERSION_MS).min(1.0);
    let step = step_per_minute * (elapsed_ms as f64 / 60_000.0).sqrt();
    drift * (1.0 - pull) + rng.random_range(-1.0..1.0) * step
}

/// `value` rounded to units of `1 / scale`, as an integer count of those units.
fn scaled(value: f64, scale: f64) -> i64 {
    (value * scale).round() as i64
}

/// The changed properties of one sample, written as `,"Name":value` in JSON.
struct Fields<'a> {
    out: &'a mut Vec<u8>,
    points: u32,
}

impl Fields<'_> {
    fn key(&mut self, name: &str) {
        self.points += 1;
        self.out.extend_from_slice(b",\"");
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// A Double held as `scaled` units of 10^-`decimals`, printed with exactly that many
    /// decimals.
    fn fixed(&mut self, name: &str, scaled: i64, decimals: u32) {
        self.key(name);
        push_fixed(self.out, scaled, decimals);
    }

    fn long(&mut self, name: &str, value: i64) {
        self.key(name);
        push_int(self.out, value);
    }

    fn string(&mut self, name: &str, value: &str) {
        self.key(name);
        self.out.push(b'"');
        self.out.extend_from_slice(value.as_bytes());
        self.out.push(b'"');
    }

    fn boolean(&mut self, name: &str, value: bool) {
        self.key(name);
        self.out.extend_from_slice(if value { b"true" } else { b"false" });
    }
}

/// Writes `value` in decimal.
fn push_int(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut rest = value.unsigned_abs();
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// Writes `value` in decimal, left-padded with zeros to `width` digits.
fn push_padded(out: &mut Vec<u8>, value: u64, width: u32) {
    let mut digits = [b'0'; 20];
    let mut rest = value;
    let mut start = digits.len();
    while rest > 0 || digits.len() - start < width as usize {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits[start..]);
}

/// Writes `scaled / 10^decimals` with exactly `decimals` decimals, e.g. 1990, 2 → `19.90`.
fn push_fixed(out: &mut Vec<u8>, scaled: i64, decimals: u32) {
    if scaled < 0 {
        out.push(b'-');
    }
    let unit = 10u64.pow(decimals);
    let magnitude = scaled.unsigned_abs();
    push_padded(out, magnitude / unit, 1);
    out.push(b'.');
    push_padded(out, magnitude % unit, decimals);
}

/// Writes milliseconds since 2026-01-01T00:00:00Z as `2026-01-01T00:00:00.013Z`.
fn push_timestamp(out: &mut Vec<u8>, ms: i64) {
    let (year, month, day) = civil_from_days(START_DAY + ms.div_euclid(DAY_MS));
    let ms_of_day = ms.rem_euclid(DAY_MS) as u64;
    push_padded(out, year as u64, 4);
    out.push(b'-');
    push_padded(out, month, 2);
    out.push(b'-');
    push_padded(out, day, 2);
    out.push(b'T');
    push_padded(out, ms_of_day / 3_600_000, 2);
    out.push(b':');
    push_padded(out, ms_of_day / 60_000 % 60, 2);
    out.push(b':');
    push_padded(out, ms_of_day / 1_000 % 60, 2);
    out.push(b'.');
    push_padded(out, ms_of_day % 1_000, 3);
    out.push(b'Z');
}

/// The (year, month, day) of a count of days since 1970-01-01, in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u64;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u64;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
