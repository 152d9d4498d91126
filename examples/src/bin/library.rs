//! library: a runtime-neutral library (`steward_examples::batch`, written
//! against `steward-core` alone) driven by either adapter.
//!
//! A producer pushes one numbered event every `--every-ms` into a
//! [`Batcher`]; the batcher writes them every `--flush-ms` to a journal
//! whose writes take `--write-ms`. On SIGTERM or SIGINT the producer stops,
//! the batcher closes and writes what it holds (the final flush), and the
//! program prints what reached the journal: every event produced, once, in
//! order. The shutdown report goes to stderr; the exit code is 0.
//!
//! ```text
//! cargo run -p steward-examples --bin library -- --runtime tokio --flush-ms 500
//! ```
//!
//! Output: `ready`, `wrote <n> events <first>..=<last>` for each batch,
//! `final flush: <n> events` once the producer is done, and last
//! `produced <n> events; the journal holds <m> in <b> batches, in order`.

use std::convert::Infallible;
use std::error::Error;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steward_core::health::Check;
use steward_core::{Context, RuntimeHandle};
use steward_examples::batch::{Batcher, Options, Sink};

/// The sink: a journal of event numbers that checks each batch follows the
/// last one, with no gap, no repeat, no reordering.
struct Journal {
    rt: RuntimeHandle,
    write: Duration,
    tally: Arc<Mutex<Tally>>,
}

/// What was produced and what the journal holds, read by `main` at the end.
#[derive(Clone, Copy)]
struct Tally {
    produced: u64,
    held: u64,
    batches: u64,
    in_order: bool,
}

impl Sink for Journal {
    type Item = u64;
    type Error = Infallible;

    async fn write(&self, batch: &[u64]) -> Result<(), Infallible> {
        self.rt.sleep(self.write).await; // the round trip to a real journal
        let mut t = self.tally.lock().unwrap();
        t.in_order &= batch
            .iter()
            .copied()
            .eq(t.held..t.held + batch.len() as u64);
        t.held += batch.len() as u64;
        t.batches += 1;
        if let (Some(first), Some(last)) = (batch.first(), batch.last()) {
            println!("wrote {} events {first}..={last}", batch.len());
        }
        Ok(())
    }
}

/// The service's startup: the library, its health check, a producer.
async fn service(
    cx: Context,
    tally: Arc<Mutex<Tally>>,
    flags: Flags,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    let rt = cx.runtime().clone();
    let (write, counts) = (flags.write, tally.clone());
    let journal = Journal {
        rt: rt.clone(),
        write,
        tally: counts,
    };
    let options = Options::new("journal").interval(flags.flush);
    let batcher = Batcher::start(rt.clone(), cx.tasks(), journal, options)?;
    cx.health()
        .register(Check::new("journal", batcher.check()).ready())?;

    cx.tasks().start("producer", move |stop| async move {
        let mut next = 0;
        while stop
            .run_until_triggered(rt.sleep(flags.every))
            .await
            .is_some()
        {
            // Waits while the batcher's buffer is full, unless asked to stop.
            match stop.run_until_triggered(batcher.push(next)).await {
                Some(Ok(())) => next += 1,
                Some(Err(_)) | None => break, // closed, or asked to stop
            }
            tally.lock().unwrap().produced = next;
        }
        let before = batcher.stats().written;
        let after = batcher.close().await?; // done producing: the final flush
        println!("final flush: {} events", after.written - before);
        Ok::<_, Box<dyn Error + Send + Sync>>(())
    })?;
    println!("ready");
    Ok(())
}

fn main() -> ExitCode {
    let flags = match Flags::parse(std::env::args().skip(1)) {
        Ok(flags) => flags,
        Err(e) => {
            eprintln!("{e}\nusage: {USAGE}");
            return ExitCode::from(2);
        }
    };
    let tally = Arc::new(Mutex::new(Tally {
        produced: 0,
        held: 0,
        batches: 0,
        in_order: true,
    }));
    let t = tally.clone();
    let code = if flags.tokio {
        steward_tokio::App::new().run(|cx| service(cx, t, flags))
    } else {
        steward_smol::App::new().run(|cx| service(cx, t, flags))
    };
    let t = *tally.lock().unwrap();
    let order = if t.in_order {
        "in order"
    } else {
        "OUT OF ORDER"
    };
    println!(
        "produced {} events; the journal holds {} in {} batches, {order}",
        t.produced, t.held, t.batches
    );
    code
}

const USAGE: &str = "library [--runtime smol|tokio] [--every-ms N] [--flush-ms N] [--write-ms N]";

#[derive(Clone, Copy)]
struct Flags {
    tokio: bool,
    every: Duration,
    flush: Duration,
    write: Duration,
}

impl Flags {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let ms = Duration::from_millis;
        let mut flags = Flags {
            tokio: false,
            every: ms(10),
            flush: ms(100),
            write: ms(5),
        };
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                println!("usage: {USAGE}");
                std::process::exit(0);
            }
            let value = args.next().ok_or(format!("{flag} needs a value"))?;
            let millis = || value.parse().map(ms).map_err(|e| format!("{flag}: {e}"));
            match flag.as_str() {
                "--runtime" if value == "smol" || value == "tokio" => {
                    flags.tokio = value == "tokio"
                }
                "--every-ms" => flags.every = millis()?,
                "--flush-ms" => flags.flush = millis()?.max(ms(1)),
                "--write-ms" => flags.write = millis()?,
                _ => return Err(format!("unexpected `{flag} {value}`")),
            }
        }
        Ok(flags)
    }
}
