//! The SQL both backends share, written once: SQLite and PostgreSQL accept the same
//! statements here (`$N` parameters, `ON CONFLICT`, `CAST(... AS BIGINT)`), but sqlx's row,
//! connection and builder types differ per backend, and generic code over sqlx backends needs
//! a bound per column type. So the functions are a macro, expanded in `sqlite.rs` and
//! `postgres.rs` with that backend's types (and the store methods that only call them). What
//! differs stays in those files: how a connection is opened, isolation (each defines `page`),
//! and two names each defines before expanding:
//! `ALERT_CONTRACTOR` (the SQL expression of an alert's contractor) and `INSERTION_ORDER`
//! (the column that orders rows inserted in the same millisecond). What a commit writes is
//! planned in `plan.rs`; `write_batch` here runs that plan through sqlx.

macro_rules! shared_sql {
    ($db:ty, $conn:ty, $row:ty, $store:ty) => {
        impl $store {
            pub(super) async fn alerts(&self, query: &ListQuery) -> Result<Page<Alert>, StoreError> {
                self.page(list_select("alerts", ALERT_CONTRACTOR, "created_at", query))
                    .await
            }

            pub(super) async fn violations(
                &self,
                query: &ListQuery,
            ) -> Result<Page<Violation>, StoreError> {
                self.page(list_select("violations", "contractor_id", "timestamp", query))
                    .await
            }

            pub(super) async fn exists(&self, table: Table, id: &str) -> Result<bool, StoreError> {
                exists(&mut *self.pool.acquire().await?, table, id).await
            }

            pub(super) async fn generated_secret(&self) -> Result<String, StoreError> {
                generated_secret(&mut *self.pool.acquire().await?).await
            }
        }

        async fn load_state(conn: &mut $conn, answers: Retention) -> Result<(Loaded, u64), StoreError> {
            let state = Loaded {
                lots: load_lots(conn).await?,
                contractors: load_contractors(conn).await?,
                stays: load_stays(conn).await?,
                cameras: load_cameras(conn).await?,
                open_alerts: load_open_alerts(conn).await?,
                open_violations: load_open_violations(conn).await?,
                gate_answers: load_gate_answers(conn, answers).await?,
            };
            let newest: i64 = sqlx::query_scalar(NEWEST_EVENT_ID)
                .fetch_one(&mut *conn)
                .await?;
            Ok((state, newest as u64 + 1))
        }

        /// The newest `limit` stored events, oldest first.
        async fn load_history(conn: &mut $conn, limit: u64) -> Result<Vec<StoredEvent>, StoreError> {
            sqlx::query(
                "SELECT id, type, lot_id, owner, data, created_at FROM
                   (SELECT * FROM events ORDER BY id DESC LIMIT $1) AS newest
                 ORDER BY id",
            )
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(event_of)
            .collect()
        }

        /// A list's rows (`SELECT data`) as a page that reflects event `newest`.
        fn page_of<T: serde::de::DeserializeOwned>(
            rows: &[$row],
            newest: i64,
        ) -> Result<Page<T>, StoreError> {
            let items = rows
                .iter()
                .map(|row| json_of(&row.try_get::<String, _>("data")?))
                .collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                last_event_id: newest as u64,
            })
        }

        /// Whether an alert or violation with this id was ever stored.
        async fn exists(conn: &mut $conn, table: Table, id: &str) -> Result<bool, StoreError> {
            let sql = match table {
                Table::Alerts => "SELECT count(*) FROM alerts WHERE id = $1",
                Table::Violations => "SELECT count(*) FROM violations WHERE id = $1",
            };
            let count: i64 = sqlx::query_scalar(sql).bind(id).fetch_one(&mut *conn).await?;
            Ok(count > 0)
        }

        /// The JWT secret the database keeps, generated on first use.
        async fn generated_secret(conn: &mut $conn) -> Result<String, StoreError> {
            let fresh = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ('jwt_secret', $1) ON CONFLICT DO NOTHING",
            )
            .bind(fresh)
            .execute(&mut *conn)
            .await?;
            Ok(
                sqlx::query_scalar("SELECT value FROM meta WHERE key = 'jwt_secret'")
                    .fetch_one(&mut *conn)
                    .await?,
            )
        }

        /// Records the base of event ids when the database is new (see docs/architecture.md).
        async fn init_event_ids(conn: &mut $conn) -> Result<(), StoreError> {
            let base = Timestamp::now().unix_millis().max(1) * 1000;
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ('event_id_base', $1) ON CONFLICT DO NOTHING",
            )
            .bind(base.to_string())
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        async fn load_lots(conn: &mut $conn) -> Result<Vec<Lot>, StoreError> {
            sqlx::query(
                "SELECT id, name, total_slots, warning_threshold, max_stay_seconds, occupied, updated_at
                 FROM lots",
            )
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| {
                let max_stay: Option<i64> = row.try_get("max_stay_seconds")?;
                Ok(Lot {
                    id: lot_id(row, "id")?,
                    settings: LotSettings {
                        name: row.try_get("name")?,
                        total_slots: u32_of(row.try_get("total_slots")?)?,
                        warning_threshold: row.try_get("warning_threshold")?,
                        max_stay_seconds: max_stay.map(|s| s as u64),
                    },
                    occupied: u32_of(row.try_get("occupied")?)?,
                    updated_at: timestamp_of(&row.try_get::<String, _>("updated_at")?)?,
                })
            })
            .collect()
        }

        async fn load_contractors(conn: &mut $conn) -> Result<Vec<Contractor>, StoreError> {
            let mut contractors: BTreeMap<String, Contractor> = BTreeMap::new();
            for row in sqlx::query("SELECT id, name, penalty_per_vehicle FROM contractors")
                .fetch_all(&mut *conn)
                .await?
            {
                let id: String = row.try_get("id")?;
                contractors.insert(
                    id.clone(),
                    Contractor {
                        id: parse(&id, |s| ContractorId::parse(s).ok())?,
                        name: row.try_get("name")?,
                        allocations: BTreeMap::new(),
                        plates: Vec::new(),
                        penalty_per_vehicle: row.try_get::<i64, _>("penalty_per_vehicle")? as u64,
                    },
                );
            }
            for row in
                sqlx::query("SELECT contractor_id, lot_id, allocated_capacity FROM contractor_allocations")
                    .fetch_all(&mut *conn)
                    .await?
            {
                let owner: String = row.try_get("contractor_id")?;
                if let Some(c) = contractors.get_mut(&owner) {
                    c.allocations.insert(
                        lot_id(&row, "lot_id")?,
                        u32_of(row.try_get("allocated_capacity")?)?,
                    );
                }
            }
            for row in sqlx::query("SELECT plate, contractor_id FROM contractor_plates ORDER BY plate")
                .fetch_all(&mut *conn)
                .await?
            {
                let owner: String = row.try_get("contractor_id")?;
                if let Some(c) = contractors.get_mut(&owner) {
                    c.plates.push(plate(&row, "plate")?);
                }
            }
            Ok(contractors.into_values().collect())
        }

        async fn load_stays(conn: &mut $conn) -> Result<Vec<Stay>, StoreError> {
            sqlx::query(
                "SELECT lot_id, plate, entered_at, gate_id, contractor_id, overstay_flagged FROM stays",
            )
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| {
                let contractor: Option<String> = row.try_get("contractor_id")?;
                Ok(Stay {
                    lot: lot_id(row, "lot_id")?,
                    plate: plate(row, "plate")?,
                    entered_at: timestamp_of(&row.try_get::<String, _>("entered_at")?)?,
                    gate_id: row.try_get("gate_id")?,
                    contractor: contractor
                        .map(|c| parse(&c, |s| ContractorId::parse(s).ok()))
                        .transpose()?,
                    overstay_flagged: row.try_get::<i64, _>("overstay_flagged")? != 0,
                })
            })
            .collect()
        }

        async fn load_cameras(conn: &mut $conn) -> Result<Vec<Camera>, StoreError> {
            sqlx::query("SELECT lot_id, camera_id, last_seen, offline_alerted FROM cameras")
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|row| {
                    Ok(Camera {
                        lot: lot_id(row, "lot_id")?,
                        camera_id: row.try_get("camera_id")?,
                        last_seen: timestamp_of(&row.try_get::<String, _>("last_seen")?)?,
                        offline_alerted: row.try_get::<i64, _>("offline_alerted")? != 0,
                    })
                })
                .collect()
        }

        async fn load_open_alerts(conn: &mut $conn) -> Result<Vec<AlertRecord>, StoreError> {
            sqlx::query("SELECT subject, data FROM alerts WHERE status <> 'resolved'")
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|row| {
                    let alert: Alert = json_of(&row.try_get::<String, _>("data")?)?;
                    let key = AlertKey {
                        lot: parse(&alert.parking_lot_id, |s| LotId::parse(s).ok())?,
                        alert_type: alert.alert_type,
                        subject: row.try_get("subject")?,
                    };
                    Ok(AlertRecord { alert, key })
                })
                .collect()
        }

        async fn load_open_violations(conn: &mut $conn) -> Result<Vec<ViolationRecord>, StoreError> {
            sqlx::query("SELECT data, breach_started_at FROM violations WHERE status <> 'resolved'")
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|row| {
                    let started: Option<String> = row.try_get("breach_started_at")?;
                    Ok(ViolationRecord {
                        violation: json_of(&row.try_get::<String, _>("data")?)?,
                        breach_started_at: started.as_deref().map(timestamp_of).transpose()?,
                    })
                })
                .collect()
        }

        /// The gate answers `retention` keeps, oldest first; deletes the others (expired while
        /// the server was stopped, or beyond a count lowered since).
        async fn load_gate_answers(
            conn: &mut $conn,
            retention: Retention,
        ) -> Result<Vec<GateAnswer>, StoreError> {
            sqlx::query("DELETE FROM gate_answers WHERE created_at < $1")
                .bind(retention.horizon(Timestamp::now()).to_string())
                .execute(&mut *conn)
                .await?;
            // Keeps the newest `max`: deletes from the (max + 1)th newest down, if there is one.
            sqlx::query(
                "DELETE FROM gate_answers WHERE seq <=
                   (SELECT seq FROM gate_answers ORDER BY seq DESC LIMIT 1 OFFSET $1)",
            )
            .bind(i64::try_from(retention.max).unwrap_or(i64::MAX))
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "SELECT lot_id, event_id, seq, timestamp_sent, data, created_at FROM gate_answers
                 ORDER BY seq",
            )
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| {
                let timestamp_sent: Option<i64> = row.try_get("timestamp_sent")?;
                Ok(GateAnswer {
                    lot: lot_id(row, "lot_id")?,
                    event_id: row.try_get("event_id")?,
                    kept: Kept {
                        seq: row.try_get::<i64, _>("seq")? as u64,
                        timestamp_sent: timestamp_sent.map(|sent| sent != 0),
                        answer: json_of(&row.try_get::<String, _>("data")?)?,
                        stored_at: timestamp_of(&row.try_get::<String, _>("created_at")?)?,
                    },
                })
            })
            .collect()
        }

        /// Writes a batch in the caller's transaction.
        async fn write_batch(conn: &mut $conn, batch: &Batch<'_>) -> Result<(), StoreError> {
            for statement in super::plan::statements(batch) {
                let mut query = sqlx::query(&statement.sql);
                for param in statement.params {
                    query = match param {
                        super::plan::Param::Int(value) => query.bind(value),
                        super::plan::Param::Real(value) => query.bind(value),
                        super::plan::Param::Text(value) => query.bind(value),
                    };
                }
                query.execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// The newest stored event id; before any, one less than the first id the store will give.
        const NEWEST_EVENT_ID: &str = "SELECT COALESCE((SELECT max(id) FROM events),
            (SELECT CAST(value AS BIGINT) - 1 FROM meta WHERE key = 'event_id_base'))";

        fn event_of(row: &$row) -> Result<StoredEvent, StoreError> {
            Ok(StoredEvent {
                id: row.try_get::<i64, _>("id")? as u64,
                event_type: parse(&row.try_get::<String, _>("type")?, |s| s.parse().ok())?,
                lot_id: row.try_get("lot_id")?,
                owner: row.try_get("owner")?,
                data: row.try_get("data")?,
                created_at: timestamp_of(&row.try_get::<String, _>("created_at")?)?,
            })
        }

        fn lot_id(row: &$row, column: &str) -> Result<LotId, StoreError> {
            parse(&row.try_get::<String, _>(column)?, |s| LotId::parse(s).ok())
        }

        fn plate(row: &$row, column: &str) -> Result<Plate, StoreError> {
            parse(&row.try_get::<String, _>(column)?, |s| Plate::parse(s).ok())
        }

        /// `SELECT data` of the rows of `table` matching `query`, newest (by `time_column`) first.
        fn list_select(
            table: &str,
            contractor_column: &str,
            time_column: &str,
            query: &ListQuery,
        ) -> QueryBuilder<'static, $db> {
            let mut select =
                QueryBuilder::<$db>::new(format!("SELECT data FROM {table} WHERE 1 = 1"));
            if let Some(status) = &query.status {
                select.push(" AND status = ").push_bind(status.clone());
            }
            if let Some(lot) = &query.lot {
                select.push(" AND lot_id = ").push_bind(lot.clone());
            }
            if let Some(lots) = &query.lots {
                if lots.is_empty() {
                    select.push(" AND 1 = 0");
                } else {
                    select.push(" AND lot_id IN (");
                    let mut each = select.separated(", ");
                    for lot in lots {
                        each.push_bind(lot.clone());
                    }
                    select.push(")");
                }
            }
            if let Some(contractor) = &query.contractor {
                select
                    .push(format!(" AND {contractor_column} = "))
                    .push_bind(contractor.clone());
            }
            select
                .push(format!(" ORDER BY {time_column} DESC, {INSERTION_ORDER} DESC LIMIT "))
                .push_bind(i64::from(query.limit));
            select
        }
    };
}

pub(super) use shared_sql;
