//! `qmp bench`: sequential and pipelined round-trip rates and latency
//! percentiles against any QMP server.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use qmp_client::{Client, ClientConfig};
use qmp_wire::{Map, Value};

use crate::target::{runtime, TargetArgs};

/// `qmp bench`
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  qmp bench /run/qemu/qmp.sock
  qmp bench --sim --seconds 3 --depth 8 --command query-name
  qmp bench --launch -- qemu-system-x86_64 -machine none -nodefaults

Runs the command back to back for --seconds, then with --depth requests in
flight for --seconds, and prints rates and latency percentiles (--json for
data).")]
pub struct BenchArgs {
    /// The target: a socket path, tcp:HOST:PORT or sim.
    #[arg(value_name = "TARGET")]
    target_word: Option<String>,
    #[command(flatten)]
    target: TargetArgs,
    /// Seconds for each of the two runs.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Requests in flight in the pipelined run.
    #[arg(long, default_value_t = 8)]
    depth: usize,
    /// The command to run (no arguments).
    #[arg(long, default_value = "query-version")]
    command: String,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
    /// The longest the client polls for a reply before it sleeps, in
    /// microseconds; the window adapts below this (0: never poll).
    #[arg(long, value_name = "MICROSECONDS", default_value_t = crate::DEFAULT_BUSY_POLL_US)]
    busy_poll: u64,
}

/// The figures of one run.
struct RunResult {
    calls: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl RunResult {
    fn rate(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }

    fn to_value(&self) -> Value {
        let micros = |d: Duration| Value::Double(d.as_secs_f64() * 1e6);
        let mut m = Map::new();
        m.insert("calls", self.calls as u64);
        m.insert("per_second", self.rate());
        m.insert("p50_us", micros(self.percentile(0.5)));
        m.insert("p99_us", micros(self.percentile(0.99)));
        m.insert("max_us", micros(self.percentile(1.0)));
        Value::Object(m)
    }
}

fn progress(label: &str, total: Duration) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total.as_millis() as u64);
    let style = ProgressStyle::with_template("{msg:>12} [{bar:40}] {elapsed_precise}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(label.to_owned());
    bar
}

/// `depth` workers calling `command` until `duration` has passed.
async fn run(
    client: &Arc<Client>,
    command: &str,
    depth: usize,
    duration: Duration,
    label: &str,
) -> anyhow::Result<RunResult> {
    let bar = progress(label, duration);
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..depth.max(1) {
        let client = Arc::clone(client);
        let command = command.to_owned();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while start.elapsed() < duration {
                let sent = Instant::now();
                client.execute(&command, ()).await?;
                latencies.push(sent.elapsed());
            }
            Ok::<_, qmp_client::Error>(latencies)
        }));
    }
    let ticker = {
        let bar = bar.clone();
        tokio::spawn(async move {
            while start.elapsed() < duration {
                bar.set_position(start.elapsed().as_millis() as u64);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    ticker.abort();
    bar.finish_and_clear();
    Ok(RunResult {
        calls: latencies.len(),
        elapsed: start.elapsed(),
        latencies,
    })
}

/// Runs `qmp bench`.
pub fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        bail!("--seconds must be a positive number");
    }
    let duration = Duration::from_secs_f64(args.seconds);
    let target = args.target.target(args.target_word.as_deref())?;
    runtime()?.block_on(async move {
        let config = ClientConfig {
            busy_poll: Duration::from_micros(args.busy_poll),
            ..args.target.client_config()
        };
        let connection = target.connect(config).await?;
        let client = Arc::new(connection.client);
        client.execute(&args.command, ()).await?;
        let sequential = run(&client, &args.command, 1, duration, "sequential").await?;
        let pipelined = run(&client, &args.command, args.depth, duration, "pipelined").await?;
        if args.json {
            let mut out = Map::new();
            out.insert("command", args.command.as_str());
            out.insert("depth", args.depth as u64);
            out.insert("sequential", sequential.to_value());
            out.insert("pipelined", pipelined.to_value());
            println!("{}", Value::Object(out));
        } else {
            println!(
                "{:<22} {:>10} {:>10} {:>10} {:>10}",
                args.command, "calls/s", "p50", "p99", "max"
            );
            for (label, result) in [
                ("sequential", &sequential),
                (&*format!("pipelined ({})", args.depth), &pipelined),
            ] {
                println!(
                    "{label:<22} {:>10.0} {:>10.1?} {:>10.1?} {:>10.1?}",
                    result.rate(),
                    result.percentile(0.5),
                    result.percentile(0.99),
                    result.percentile(1.0)
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
