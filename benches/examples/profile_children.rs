//! The child-scope cycle of `benches/children.rs` as a plain program, for
//! an instruction-level profile that repeats exactly from run to run:
//!
//! ```text
//! cargo build --profile bench -p steward-benches --example profile_children
//! valgrind --tool=callgrind target/release/examples/profile_children steward
//! valgrind --tool=callgrind target/release/examples/profile_children tokio-util
//! callgrind_annotate --inclusive=yes callgrind.out.<pid>
//! ```
//!
//! Each run makes 3 cycles of: create 100,000 children of one root, trigger
//! the root, drop the children.

use std::hint::black_box;

use steward_core::{Reason, Shutdown};
use tokio_util::sync::CancellationToken;

const N: usize = 100_000;
const CYCLES: usize = 3;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "steward".into());
    for _ in 0..CYCLES {
        match which.as_str() {
            "steward" => {
                let root = Shutdown::new();
                let children: Vec<Shutdown> = (0..N).map(|_| black_box(&root).child()).collect();
                root.trigger(Reason::Requested);
                drop(children);
            }
            "tokio-util" => {
                let root = CancellationToken::new();
                let children: Vec<CancellationToken> =
                    (0..N).map(|_| black_box(&root).child_token()).collect();
                root.cancel();
                drop(children);
            }
            other => panic!("unknown contender {other:?}: steward or tokio-util"),
        }
    }
}
