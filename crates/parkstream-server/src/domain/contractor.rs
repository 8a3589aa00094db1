//! Contractors: who may park how many vehicles where, and which plates are theirs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use parkstream_protocol::api::{Allocation, ContractorSpec, ContractorView, LotOccupancy};
use parkstream_protocol::records::{ContractorLot, ContractorVehicles, VehicleInside};
use parkstream_protocol::Timestamp;

use super::lot::LotId;
use super::state::{Change, State, Txn};
use super::{check_identifier, DomainError};

/// Penalty per vehicle above an allocation when the contractor sets none.
pub const DEFAULT_PENALTY_PER_VEHICLE: u64 = 500;
/// The largest penalty per vehicle accepted (it must fit the database's signed integers
/// even multiplied by an excess).
pub const MAX_PENALTY_PER_VEHICLE: u64 = 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContractorId(Arc<str>);

impl ContractorId {
    /// # Errors
    /// When `raw` is not a valid identifier.
    pub fn parse(raw: &str) -> Result<Self, String> {
        check_identifier(raw, "contractor id")?;
        Ok(Self(raw.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContractorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A number plate, normalized: upper case, without spaces or dashes (`ka-01 ab 1234` and
/// `KA01AB1234` are the same vehicle).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Plate(Arc<str>);

impl Plate {
    /// # Errors
    /// When nothing is left after normalizing, it is longer than 16 characters, or it has a
    /// character other than letters and digits.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let normalized: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_uppercase)
            .collect();
        if normalized.is_empty() {
            return Err("a plate number cannot be empty".into());
        }
        if normalized.chars().count() > 16 || !normalized.chars().all(|c| c.is_alphanumeric()) {
            return Err(format!(
                "plate number {} must be 1 to 16 letters and digits (spaces and dashes are ignored)",
                super::quote(raw)
            ));
        }
        Ok(Self(normalized.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Plate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contractor {
    pub id: ContractorId,
    pub name: String,
    /// Allocated capacity per lot.
    pub allocations: BTreeMap<LotId, u32>,
    pub plates: Vec<Plate>,
    pub penalty_per_vehicle: u64,
}

/// A contractor's settings, checked (all but what needs the state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractorSettings {
    pub name: String,
    pub allocations: BTreeMap<LotId, u32>,
    pub plates: Vec<Plate>,
    pub penalty_per_vehicle: u64,
}

impl ContractorSettings {
    /// # Errors
    /// When the name is blank, a lot id or plate is malformed, or a lot is allocated twice.
    pub fn parse(spec: ContractorSpec) -> Result<Self, DomainError> {
        let name = spec.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(DomainError::invalid(
                "name",
                "name must have 1 to 200 characters",
            ));
        }
        let mut allocations = BTreeMap::new();
        for (index, allocation) in spec.allocations.iter().enumerate() {
            let field = format!("allocations[{index}].parkingLotId");
            let lot = LotId::parse(&allocation.parking_lot_id)
                .map_err(|m| DomainError::invalid(field.clone(), m))?;
            if allocations
                .insert(lot, allocation.allocated_capacity)
                .is_some()
            {
                return Err(DomainError::invalid(
                    field,
                    format!("lot {} is allocated twice", allocation.parking_lot_id),
                ));
            }
        }
        let mut plates = Vec::with_capacity(spec.plates.len());
        for (index, raw) in spec.plates.iter().enumerate() {
            let plate = Plate::parse(raw)
                .map_err(|m| DomainError::invalid(format!("plates[{index}]"), m))?;
            if !plates.contains(&plate) {
                plates.push(plate);
            }
        }
        plates.sort();
        let penalty_per_vehicle = spec
            .penalty_per_vehicle
            .unwrap_or(DEFAULT_PENALTY_PER_VEHICLE);
        if penalty_per_vehicle > MAX_PENALTY_PER_VEHICLE {
            return Err(DomainError::invalid(
                "penaltyPerVehicle",
                format!("penaltyPerVehicle must be at most {MAX_PENALTY_PER_VEHICLE}"),
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            allocations,
            plates,
            penalty_per_vehicle,
        })
    }
}

impl State {
    /// A contractor as the API shows it.
    pub fn contractor_view(&self, contractor: &Contractor) -> ContractorView {
        let mut occupancy: Vec<LotOccupancy> = self
            .inside
            .iter()
            .filter(|((c, _), vehicles)| *c == contractor.id && **vehicles > 0)
            .map(|((_, lot), vehicles)| LotOccupancy {
                parking_lot_id: lot.to_string(),
                vehicles: *vehicles,
            })
            .collect();
        occupancy.sort_by(|a, b| a.parking_lot_id.cmp(&b.parking_lot_id));
        ContractorView {
            contractor_id: contractor.id.to_string(),
            name: contractor.name.clone(),
            allocations: contractor
                .allocations
                .iter()
                .map(|(lot, capacity)| Allocation {
                    parking_lot_id: lot.to_string(),
                    allocated_capacity: *capacity,
                })
                .collect(),
            plates: contractor.plates.iter().map(ToString::to_string).collect(),
            penalty_per_vehicle: contractor.penalty_per_vehicle,
            occupancy,
        }
    }

    /// A contractor's vehicles inside now (those that entered under it, as its allocations
    /// count them) and its allocation in each lot against them; `None` for an unknown
    /// contractor. With `lots`, only those lots.
    pub fn contractor_vehicles(
        &self,
        id: &ContractorId,
        lots: Option<&[String]>,
    ) -> Option<ContractorVehicles> {
        let contractor = self.contractors.get(id)?;
        let visible = |lot: &LotId| lots.is_none_or(|lots| lots.iter().any(|l| l == lot.as_str()));
        let mut by_lot: BTreeMap<String, ContractorLot> = contractor
            .allocations
            .iter()
            .filter(|(lot, _)| visible(lot))
            .map(|(lot, capacity)| {
                let row = ContractorLot {
                    parking_lot_id: lot.to_string(),
                    allocated_capacity: *capacity,
                    vehicles_inside: 0,
                };
                (lot.to_string(), row)
            })
            .collect();
        let mut vehicles: Vec<VehicleInside> = self
            .stays
            .values()
            .filter(|stay| stay.contractor.as_ref() == Some(id) && visible(&stay.lot))
            .map(|stay| VehicleInside {
                plate: stay.plate.to_string(),
                lot: stay.lot.to_string(),
                since: stay.entered_at,
                gate: stay.gate_id.clone(),
            })
            .collect();
        vehicles.sort_by(|a, b| (&a.lot, a.since, &a.plate).cmp(&(&b.lot, b.since, &b.plate)));
        for vehicle in &vehicles {
            by_lot
                .entry(vehicle.lot.clone())
                .or_insert_with(|| ContractorLot {
                    parking_lot_id: vehicle.lot.clone(),
                    allocated_capacity: 0,
                    vehicles_inside: 0,
                })
                .vehicles_inside += 1;
        }
        Some(ContractorVehicles {
            contractor_id: id.to_string(),
            name: contractor.name.clone(),
            lots: by_lot.into_values().collect(),
            vehicles,
        })
    }

    /// Whether any contractor has an allocation in `lot` (only then are plates checked there).
    pub(super) fn lot_has_contractors(&self, lot: &LotId) -> bool {
        self.contractors
            .values()
            .any(|c| c.allocations.contains_key(lot))
    }
}

impl Txn<'_> {
    /// Creates or replaces a contractor; answers its view and whether it was created. The
    /// contractor rules run again for every lot it is allocated in or has vehicles in.
    /// Vehicles already inside keep the contractor they entered under.
    ///
    /// # Errors
    /// `NotFound` for an allocation to an unknown lot; `Conflict` for a plate another
    /// contractor registered.
    pub fn put_contractor(
        &mut self,
        id: ContractorId,
        settings: ContractorSettings,
        now: Timestamp,
    ) -> Result<(ContractorView, bool), DomainError> {
        for (index, lot) in settings.allocations.keys().enumerate() {
            self.existing_lot(lot, &format!("allocations[{index}].parkingLotId"))?;
        }
        for plate in &settings.plates {
            if let Some(owner) = self.state.plates.get(plate) {
                if *owner != id {
                    return Err(DomainError::Conflict(format!(
                        "plate {plate} is registered to contractor {owner}"
                    )));
                }
            }
        }
        let previous = self.state.contractors.get(&id).cloned();
        let created = previous.is_none();
        for plate in previous.iter().flat_map(|p| &p.plates) {
            if !settings.plates.contains(plate) {
                self.write(|s| &mut s.plates, plate.clone(), None);
            }
        }
        for plate in &settings.plates {
            self.write(|s| &mut s.plates, plate.clone(), Some(id.clone()));
        }
        let contractor = Contractor {
            id: id.clone(),
            name: settings.name,
            allocations: settings.allocations,
            plates: settings.plates,
            penalty_per_vehicle: settings.penalty_per_vehicle,
        };
        self.record(Change::Contractor(contractor.clone()));
        self.write(|s| &mut s.contractors, id.clone(), Some(contractor.clone()));

        let mut lots: Vec<LotId> = contractor.allocations.keys().cloned().collect();
        lots.extend(
            self.state
                .inside
                .keys()
                .filter(|(c, _)| *c == id)
                .map(|(_, lot)| lot.clone()),
        );
        lots.extend(previous.iter().flat_map(|p| p.allocations.keys().cloned()));
        lots.sort();
        lots.dedup();
        for lot in &lots {
            self.evaluate_contractor(&id, lot, now);
        }
        Ok((self.state.contractor_view(&contractor), created))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plates_are_normalized() {
        assert_eq!(
            Plate::parse("ka-01 ab 1234").unwrap().as_str(),
            "KA01AB1234"
        );
        for bad in ["", " - ", "AB_12", "X".repeat(17).as_str()] {
            assert!(Plate::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn settings_refuse_a_lot_allocated_twice_and_dedupe_plates() {
        let spec = |lots: &[&str]| ContractorSpec {
            name: "Acme".into(),
            allocations: lots
                .iter()
                .map(|l| Allocation {
                    parking_lot_id: (*l).into(),
                    allocated_capacity: 5,
                })
                .collect(),
            plates: vec!["ab1".into(), "AB-1".into()],
            penalty_per_vehicle: None,
        };
        let ok = ContractorSettings::parse(spec(&["a", "b"])).unwrap();
        assert_eq!(ok.plates.len(), 1);
        assert_eq!(ok.penalty_per_vehicle, 500);
        let err = ContractorSettings::parse(spec(&["a", "a"])).unwrap_err();
        assert!(
            matches!(err, DomainError::Invalid { field, .. } if field == "allocations[1].parkingLotId")
        );
    }
}
