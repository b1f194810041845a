//! Builds the operator project in the directory given as the first argument and prints the
//! component's path: `cargo run -p cameo-lang --example build -- DIR`.

fn main() -> std::process::ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: build DIR");
        return std::process::ExitCode::FAILURE;
    };
    match cameo_lang::build(std::path::Path::new(&dir), None) {
        Ok(path) => {
            println!("{}", path.display());
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
