//! Prints a parkstream server's live events until interrupted.
//!
//! `cargo run -p parkstream-client --example watch -- http://127.0.0.1:8080 [lot_1,lot_2]`

use futures_util::StreamExt;
use parkstream_client::{Client, Update};
use parkstream_protocol::events::Event;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let server = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let mut builder = Client::builder(server);
    if let Some(lots) = args.next() {
        builder = builder.lots(lots.split(','));
    }
    let client = builder.build()?;
    println!("watching {}", client.url());
    let mut updates = client.subscribe();
    while let Some(update) = updates.next().await {
        match update? {
            Update::Event(received) => match received.event {
                Event::Connected(c) => {
                    println!("connected as {} (resumed: {})", c.client_id, c.resumed)
                }
                Event::CapacityUpdate(u) => println!(
                    "{} {}/{}{}",
                    u.parking_lot_id,
                    u.occupied,
                    u.total_slots,
                    u.plate_number
                        .map(|p| format!(" ({p})"))
                        .unwrap_or_default()
                ),
                Event::Alert(a) => println!(
                    "alert {:?} {:?} in {}: {}",
                    a.alert_type, a.status, a.parking_lot_id, a.message
                ),
                Event::Violation(v) => println!(
                    "violation {:?} {:?} in {}",
                    v.violation_type, v.status, v.parking_lot_id
                ),
                Event::Reset(_) => println!("events were missed: reload the state over REST"),
                Event::Ping(_) => {}
            },
            Update::Reconnecting {
                attempt,
                delay,
                error,
            } => {
                println!("connection lost ({error}); attempt {attempt} in {delay:?}");
            }
        }
    }
    Ok(())
}
