//! Thin binary: parse arguments, hand them to the library, turn the result
//! into an exit code. See `stampede::app::ExitCode` for the code table.

use clap::Parser;

/// jemalloc, as oha uses: a user task is one 128-byte-aligned allocation
/// and glibc's malloc pays for the alignment in every one of them.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    let cli = stampede::cli::Cli::parse();
    let runtime = match stampede::app::runtime_for(stampede::app::clock_of(&cli)) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(stampede::app::EXIT_RUNTIME);
        }
    };
    let code = runtime.block_on(stampede::app::main(cli));
    std::process::ExitCode::from(code)
}
