//! The simulated city: lots, contractors, vehicles and cameras, as a pure function of a seed.
//!
//! Each tick is two minutes of a day. Visitors fill the public lots in the morning rush (the
//! North Garage past 90 % and past full) and leave in the evening; Acme parks more vans at
//! the depot than it was allocated; now and then an unregistered car enters the depot; one
//! van forgets to leave the depot; the South camera falls silent for a while and comes back.
//! The same seed always gives the same requests.

use std::collections::BTreeMap;

use parkstream_protocol::api::{Allocation, ContractorSpec, GateReport, LotMonitorReport, LotSpec};
use parkstream_protocol::events::GateEventKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Simulated minutes per tick.
pub const MINUTES_PER_TICK: u32 = 2;
const TICKS_PER_DAY: u64 = 24 * 60 / MINUTES_PER_TICK as u64;
/// The day starts at 05:00, so the morning rush comes soon after a start.
const START_MINUTE: u64 = 5 * 60;
/// Ticks between camera reports; the South camera is silent this many ticks each day.
const CAMERA_EVERY: u64 = 4;
const SILENT_TICKS: u64 = 360;
/// A stay in the depot longer than this (real seconds) is an overstay: at the default half a
/// second per tick the fleets stay under 175 s, the forgetful van about 225 s.
pub const DEPOT_MAX_STAY_SECONDS: u64 = 200;

/// One request of the public API.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    PutLot { id: String, spec: LotSpec },
    PutContractor { id: String, spec: ContractorSpec },
    Gates(Vec<GateReport>),
    Cameras(Vec<LotMonitorReport>),
}

#[derive(Debug)]
struct LotSim {
    id: &'static str,
    name: &'static str,
    slots: u32,
    /// How strongly the morning rush fills it (1.0: to about capacity).
    pull: f64,
    /// Plates inside, in arrival order.
    inside: Vec<String>,
}

/// The simulation state. Deterministic: it draws only from its seeded generator.
#[derive(Debug)]
pub struct Scenario {
    rng: StdRng,
    tick: u64,
    lots: Vec<LotSim>,
    next_plate: u64,
    next_event: u64,
    /// Prefix of gate event ids, unique per run: a second run against the same database must
    /// not be taken for repeats of the first (event ids make gate events idempotent).
    run: String,
}

impl Scenario {
    /// A scenario for `seed`; `run` tells this run's gate event ids from another's.
    pub fn new(seed: u64, run: &str) -> Self {
        let lot = |id, name, slots, pull| LotSim {
            id,
            name,
            slots,
            pull,
            inside: Vec::new(),
        };
        Self {
            rng: StdRng::seed_from_u64(seed),
            tick: 0,
            lots: vec![
                lot("north", "North Garage", 120, 1.12),
                lot("south", "South Surface", 80, 0.7),
                lot("terminal", "Terminal P1", 300, 0.6),
                lot("depot", "Contractor Depot", 60, 0.0),
            ],
            next_plate: 0,
            next_event: 0,
            run: run.to_owned(),
        }
    }

    /// The lots and contractors, created or updated (idempotent).
    pub fn setup(&self) -> Vec<Request> {
        let mut requests: Vec<Request> = self
            .lots
            .iter()
            .map(|lot| Request::PutLot {
                id: lot.id.into(),
                spec: LotSpec {
                    name: lot.name.into(),
                    total_slots: lot.slots,
                    warning_threshold: None,
                    max_stay_seconds: (lot.id == "depot").then_some(DEPOT_MAX_STAY_SECONDS),
                    ..LotSpec::default()
                },
            })
            .collect();
        for (id, name, allocated, prefix, fleet) in [
            ("acme", "Acme Logistics", 25, "ACME", 32),
            ("zen", "Zen Facility Services", 20, "ZEN", 18),
        ] {
            requests.push(Request::PutContractor {
                id: id.into(),
                spec: ContractorSpec {
                    name: name.into(),
                    allocations: vec![Allocation {
                        parking_lot_id: "depot".into(),
                        allocated_capacity: allocated,
                    }],
                    plates: (1..=fleet).map(|n| format!("{prefix}{n:03}")).collect(),
                    penalty_per_vehicle: Some(500),
                },
            });
        }
        requests
    }

    /// The simulated time of day, `HH:MM`.
    pub fn clock(&self) -> String {
        let minute = self.minute_of_day();
        format!("{:02}:{:02}", minute / 60, minute % 60)
    }

    fn minute_of_day(&self) -> u64 {
        (START_MINUTE + self.tick * u64::from(MINUTES_PER_TICK)) % (24 * 60)
    }

    /// The requests of the next two minutes.
    pub fn next_tick(&mut self) -> Vec<Request> {
        let hour = self.minute_of_day() as f64 / 60.0;
        let mut gates = Vec::new();
        for index in 0..self.lots.len() {
            if self.lots[index].id == "depot" {
                self.depot(hour, &mut gates);
            } else {
                self.public_lot(index, hour, &mut gates);
            }
        }
        let mut requests = Vec::new();
        if !gates.is_empty() {
            requests.push(Request::Gates(gates));
        }
        if self.tick % CAMERA_EVERY == 0 {
            let silent =
                self.tick % TICKS_PER_DAY >= 60 && self.tick % TICKS_PER_DAY < 60 + SILENT_TICKS;
            let reports = self
                .lots
                .iter()
                .filter(|lot| !(silent && lot.id == "south"))
                .map(|lot| LotMonitorReport {
                    parking_lot_id: lot.id.into(),
                    camera_id: format!("cam-{}-1", lot.id),
                    occupied: lot.inside.len() as u32,
                    total_slots: None,
                    timestamp: None,
                })
                .collect();
            requests.push(Request::Cameras(reports));
        }
        self.tick += 1;
        requests
    }

    /// Visitors: each lot follows its share of a day's occupancy curve (quiet at night, full
    /// by 09:00, emptying after 16:00), with noise and some cars leaving while others arrive.
    fn public_lot(&mut self, index: usize, hour: f64, gates: &mut Vec<GateReport>) {
        let lot = &self.lots[index];
        let target = f64::from(lot.slots) * lot.pull * day_curve(hour);
        let inside = lot.inside.len() as f64;
        let churn = inside * 0.01 + 0.2;
        let arrive = (target - inside).max(0.0) * 0.2 + churn;
        let leave = (inside - target).max(0.0) * 0.2 + churn;
        let arrivals = self.draw(arrive);
        let departures = self.draw(leave);
        for _ in 0..departures {
            let lot = &mut self.lots[index];
            if lot.inside.is_empty() {
                break;
            }
            let pick = self.rng.random_range(0..lot.inside.len());
            let plate = self.lots[index].inside.swap_remove(pick);
            gates.push(self.gate(index, GateEventKind::VehicleExit, plate));
        }
        for _ in 0..arrivals {
            self.next_plate += 1;
            let plate = format!(
                "KA{:02}MX{:04}",
                self.next_plate % 60,
                self.next_plate % 10_000
            );
            self.lots[index].inside.push(plate.clone());
            gates.push(self.gate(index, GateEventKind::VehicleEntry, plate));
        }
    }

    /// The depot: contractor fleets in working hours; Acme brings more vans than allocated in
    /// the morning; van ACME032 forgets to leave; an unregistered car visits now and then.
    fn depot(&mut self, hour: f64, gates: &mut Vec<GateReport>) {
        let index = self
            .lots
            .iter()
            .position(|l| l.id == "depot")
            .expect("depot");
        let working = (6.5..18.0).contains(&hour);
        let wanted: BTreeMap<&str, usize> = if working {
            let acme = if (7.0..11.0).contains(&hour) { 29 } else { 20 };
            [("ACME", acme), ("ZEN", 15)].into_iter().collect()
        } else {
            [("ACME", 0), ("ZEN", 0)].into_iter().collect()
        };
        for (prefix, target) in wanted {
            let fleet = if prefix == "ACME" { 31 } else { 18 };
            let present: Vec<String> = self.lots[index]
                .inside
                .iter()
                .filter(|p| p.starts_with(prefix) && p.as_str() != "ACME032")
                .cloned()
                .collect();
            if present.len() < target {
                let free: Vec<String> = (1..=fleet)
                    .map(|n| format!("{prefix}{n:03}"))
                    .filter(|p| !present.contains(p))
                    .collect();
                let step = (target - present.len()).min(3);
                for plate in free.into_iter().take(step) {
                    self.lots[index].inside.push(plate.clone());
                    gates.push(self.gate(index, GateEventKind::VehicleEntry, plate));
                }
            } else if present.len() > target {
                let step = (present.len() - target).min(3);
                for plate in present.into_iter().take(step) {
                    self.lots[index].inside.retain(|p| *p != plate);
                    gates.push(self.gate(index, GateEventKind::VehicleExit, plate));
                }
            }
        }
        let inside = &self.lots[index].inside;
        if working && !inside.iter().any(|p| p == "ACME032") && (7.0..7.1).contains(&hour) {
            self.lots[index].inside.push("ACME032".into());
            gates.push(self.gate(index, GateEventKind::VehicleEntry, "ACME032".into()));
        }
        if !working && hour > 22.0 && self.lots[index].inside.iter().any(|p| p == "ACME032") {
            self.lots[index].inside.retain(|p| p != "ACME032");
            gates.push(self.gate(index, GateEventKind::VehicleExit, "ACME032".into()));
        }
        // An unregistered car drops someone off, about twice a day.
        if self.rng.random_bool(2.0 / TICKS_PER_DAY as f64) {
            self.next_plate += 1;
            let plate = format!(
                "TN{:02}ZZ{:04}",
                self.next_plate % 60,
                self.next_plate % 10_000
            );
            gates.push(self.gate(index, GateEventKind::VehicleEntry, plate.clone()));
            gates.push(self.gate(index, GateEventKind::VehicleExit, plate));
        }
    }

    fn gate(&mut self, index: usize, event: GateEventKind, plate: String) -> GateReport {
        self.next_event += 1;
        let gate = if self.next_event % 3 == 0 {
            "south"
        } else {
            "north"
        };
        GateReport {
            event_id: Some(format!("sim-{}-{}", self.run, self.next_event)),
            parking_lot_id: self.lots[index].id.into(),
            gate_id: Some(gate.into()),
            event,
            plate_number: plate,
            timestamp: None,
        }
    }

    /// A whole number drawn around `mean` (its fractional part decides by chance).
    fn draw(&mut self, mean: f64) -> usize {
        let noisy = mean * self.rng.random_range(0.6..1.4);
        let whole = noisy.floor();
        whole as usize + usize::from(self.rng.random_bool((noisy - whole).clamp(0.0, 1.0)))
    }
}

/// The share of a lot's `pull` that is parked at `hour`: quiet at night, full by 09:00,
/// emptying after 16:00 (linear between these points).
fn day_curve(hour: f64) -> f64 {
    const POINTS: [(f64, f64); 8] = [
        (0.0, 0.12),
        (6.0, 0.12),
        (8.5, 1.0),
        (11.0, 0.95),
        (15.0, 0.85),
        (18.0, 0.3),
        (21.0, 0.15),
        (24.0, 0.12),
    ];
    let upper = POINTS
        .iter()
        .position(|(h, _)| *h >= hour)
        .unwrap_or(POINTS.len() - 1)
        .max(1);
    let ((h0, v0), (h1, v1)) = (POINTS[upper - 1], POINTS[upper]);
    v0 + (v1 - v0) * ((hour - h0) / (h1 - h0)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64, ticks: usize) -> Vec<Request> {
        let mut scenario = Scenario::new(seed, "test");
        let mut requests = scenario.setup();
        for _ in 0..ticks {
            requests.extend(scenario.next_tick());
        }
        requests
    }

    #[test]
    fn the_same_seed_gives_the_same_requests() {
        assert_eq!(run(42, 800), run(42, 800));
        assert_ne!(run(42, 800), run(43, 800));
    }

    #[test]
    fn a_day_has_a_rush_an_overflow_a_breach_and_a_silent_camera() {
        let mut scenario = Scenario::new(7, "test");
        let mut peaks = [0usize; 4];
        let mut peak_acme = 0;
        let mut south_reports = Vec::new();
        for tick in 0..TICKS_PER_DAY {
            for request in scenario.next_tick() {
                if let Request::Cameras(reports) = request {
                    if reports.iter().any(|r| r.parking_lot_id == "south") {
                        south_reports.push(tick);
                    }
                }
            }
            for (peak, lot) in peaks.iter_mut().zip(&scenario.lots) {
                *peak = (*peak).max(lot.inside.len());
            }
            let acme = scenario.lots[3]
                .inside
                .iter()
                .filter(|p| p.starts_with("ACME"))
                .count();
            peak_acme = peak_acme.max(acme);
        }
        let [north, south, terminal, _depot] = peaks;
        assert!(
            (121..=145).contains(&north),
            "North overflows a little in the rush: {peaks:?}"
        );
        assert!(
            south < 72 && terminal < 270,
            "the others stay below 90 %: {peaks:?}"
        );
        assert!(
            peak_acme > 25,
            "Acme parks above its allocation: {peak_acme}"
        );
        let longest_gap = south_reports.windows(2).map(|w| w[1] - w[0]).max().unwrap();
        assert!(longest_gap >= SILENT_TICKS, "the South camera falls silent");
        assert_eq!(scenario.clock(), "05:00", "a whole day later");
    }
}
