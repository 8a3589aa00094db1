//! Several instances on one PostgreSQL database and one Redis (`--redis-url`).
//!
//! - Writes: every instance keeps its own writer, but writers take turns through a session
//!   advisory lock in PostgreSQL ([`crate::store::WriteLock`]). Holding it, a writer reloads
//!   the domain state if another instance committed since its last turn (the cluster row's
//!   version says so), applies its group of commands, commits them with the next event ids,
//!   appends their events to the Redis Stream, and only then releases the lock. Rules therefore
//!   see one consistent state across the cluster; counts stay exact; unique indexes back the
//!   "one active alert" and "one ongoing breach" rules. [`ClusterWriting`] is the writer's side.
//! - Ids: event ids come from the database in commit order; the stream entry of event `N` has
//!   the stream id `N-0`, so stream order is commit order and every instance reads the same ids.
//! - Redis down: the writer checks Redis before committing (when the last append failed or
//!   events wait to be appended) and answers 503 instead of storing what it cannot deliver. An
//!   event stored whose append then failed stays in the database's event table (the outbox):
//!   the next writer on any instance appends it first, in order.
//! - Fan-out: every instance follows the stream ([`Follower`]) and publishes into its own
//!   hub; an entry missing from the stream (trimmed, or lost when Redis restarted) is read
//!   from the database, so subscribers see every stored event once, in order.
//! - Timers (silent cameras, overstays) run on one instance, the one holding a second advisory
//!   lock ([`leader::Leadership`]); when it dies, PostgreSQL frees the lock and another takes over.

mod commit;
pub mod leader;
pub mod stream;

pub use commit::ClusterWriting;
pub use leader::Leadership;
pub use stream::{Appender, Follower};
