//! `twinstore model`: the Time Series Model out (export), in (import) and at a glance (show).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::Value as Json;

use super::{CliError, Db, EXIT_REJECTED, open, open_existing, read_stdin};

/// The Time Series Model: types, hierarchies and instances (docs/MODEL.md)
#[derive(Args)]
pub(super) struct ModelArgs {
    #[command(subcommand)]
    command: ModelCommand,
}

#[derive(Subcommand)]
enum ModelCommand {
    Export(ModelExportArgs),
    Import(ModelImportArgs),
    Show(ModelShowArgs),
}

/// Write the model as TSI's Model API returns it (modelSettings, types, hierarchies,
/// instances) to FILE or stdout
///
/// Without --derived only what was put (a store that imports it derives the rest from its
/// own data); with it, the derived types, the ADT hierarchy and every twin's instance too.
#[derive(Args)]
struct ModelExportArgs {
    #[command(flatten)]
    db: Db,
    /// Output file; stdout when absent.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Include what is derived from the data and the ADT events.
    #[arg(long)]
    derived: bool,
}

/// Load a model exported by TSI or by `twinstore model export`
///
/// FILE (stdin when `-`) holds any of modelSettings, types, hierarchies and instances, each
/// list as an array or as a $batch body {"put": [...]}. Each item is put on its own; refused
/// items are listed on stderr with the reason, and the exit code is 2 if any was.
#[derive(Args)]
struct ModelImportArgs {
    #[command(flatten)]
    db: Db,
    /// The model document (JSON); `-` for stdin.
    file: PathBuf,
}

/// Print the model's settings, types and hierarchies, or one twin's instance
#[derive(Args)]
struct ModelShowArgs {
    #[command(flatten)]
    db: Db,
    /// Show this twin's instance (put or implied) instead.
    #[arg(long, value_name = "ID")]
    twin: Option<String>,
}

pub(super) fn model(args: ModelArgs) -> Result<ExitCode, CliError> {
    match args.command {
        ModelCommand::Export(a) => export(a),
        ModelCommand::Import(a) => import(a),
        ModelCommand::Show(a) => show(a),
    }
}

fn print_json(json: &Json) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(json).map_err(|e| CliError::Message(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

fn export(args: ModelExportArgs) -> Result<ExitCode, CliError> {
    let store = open_existing(&args.db.db)?;
    let model = store.export_model_json(args.derived);
    match &args.out {
        None => print_json(&model)?,
        Some(path) => {
            let text = serde_json::to_vec_pretty(&model).map_err(|e| CliError::Message(e.to_string()))?;
            std::fs::write(path, text)
                .map_err(|e| CliError::Message(format!("cannot write {}: {e}", path.display())))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every refused item of an import answer: (kind, position, code, message).
fn refusals(answer: &Json) -> Vec<(String, usize, String, String)> {
    let mut out = Vec::new();
    for kind in ["types", "hierarchies", "instances"] {
        let items = answer[kind]["put"].as_array().cloned().unwrap_or_default();
        for (i, item) in items.iter().enumerate() {
            if let Some(e) = item.get("error").filter(|e| !e.is_null()) {
                let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                out.push((kind.to_string(), i + 1, text("code"), text("message")));
            }
        }
    }
    if let Some(e) = answer.get("modelSettings").and_then(|s| s.get("error")) {
        let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
        out.push(("modelSettings".into(), 1, text("code"), text("message")));
    }
    out
}

fn import(args: ModelImportArgs) -> Result<ExitCode, CliError> {
    let body = if args.file.as_os_str() == "-" {
        read_stdin()?
    } else {
        std::fs::read(&args.file).map_err(|e| CliError::Message(format!("cannot read {}: {e}", args.file.display())))?
    };
    let store = open(&args.db.db, twinstore::Options::default().background_maintenance(false))?;
    let answer = store.import_model_json(&body)?;
    let count = |kind: &str| answer[kind]["put"].as_array().map_or(0, Vec::len);
    let refused = refusals(&answer);
    let mut err = std::io::stderr().lock();
    for (kind, position, code, message) in &refused {
        let _ = writeln!(err, "{kind} item {position}: {code}: {message}");
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "types {}  hierarchies {}  instances {}  refused {}",
        count("types"),
        count("hierarchies"),
        count("instances"),
        refused.len()
    )?;
    out.flush()?;
    Ok(if refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_REJECTED)
    })
}

fn show(args: ModelShowArgs) -> Result<ExitCode, CliError> {
    let store = open_existing(&args.db.db)?;
    if let Some(twin) = &args.twin {
        let Some(instance) = store.instance(twin) else {
            return Err(CliError::Message(format!(
                "twin {twin:?} has no instance (no data and none put)"
            )));
        };
        print_json(&instance.to_json())?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    let settings = store.model_settings();
    writeln!(
        out,
        "model {:?}, default type {:?}",
        settings.name, settings.default_type_id
    )?;
    let instances = store.instances();
    for t in store.time_series_types() {
        let of_type = instances.iter().filter(|i| i.type_id == t.id).count();
        let variables: Vec<&str> = t.variables.iter().map(|(n, _)| n.as_str()).collect();
        writeln!(
            out,
            "type {:?} ({}): {} instance(s); variables: {}",
            t.name,
            t.id,
            of_type,
            variables.join(", ")
        )?;
    }
    for h in store.hierarchies() {
        let members = instances.iter().filter(|i| i.hierarchy_ids.contains(&h.id)).count();
        writeln!(
            out,
            "hierarchy {:?} ({}): levels {}; {} instance(s)",
            h.name,
            h.id,
            h.instance_field_names.join(" / "),
            members
        )?;
    }
    writeln!(out, "instances: {}", instances.len())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Search instances and navigate hierarchies, as TSI's explorer does
///
/// Lists the hierarchy nodes one level below PATH with how many matching instances each
/// holds, then the matching instances at PATH (with --recursive, anywhere under it). TEXT's
/// words must all occur in an instance's id, name, description, type name, hierarchy names
/// or instance fields (case-insensitive).
///
/// Examples:
///   twinstore search --db twins.db                      # hierarchies, unparented instances
///   twinstore search --db twins.db --path "ADT/building/floor2"
///   twinstore search --db twins.db thermostat --recursive --path ADT/building
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub(super) struct SearchArgs {
    #[command(flatten)]
    db: Db,
    /// Words to search for; all instances when absent.
    text: Option<String>,
    /// `HIERARCHY/LEVEL/...` (the hierarchy's name first); the root when absent.
    #[arg(long)]
    path: Option<String>,
    /// Instances anywhere under the path, not only directly at it.
    #[arg(long)]
    recursive: bool,
    /// At most this many instances.
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

pub(super) fn search(args: SearchArgs) -> Result<ExitCode, CliError> {
    let store = open_existing(&args.db.db)?;
    let path: Vec<String> = args
        .path
        .as_deref()
        .map(|p| p.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    let result = store.search_instances(&twinstore::tsm::InstanceSearch {
        text: args.text.unwrap_or_default(),
        path,
        recursive: args.recursive,
        page_size: args.limit.clamp(1, twinstore::tsm::search::MAX_PAGE),
        node_page_size: twinstore::tsm::search::MAX_PAGE,
        ..twinstore::tsm::InstanceSearch::default()
    })?;
    let mut out = std::io::stdout().lock();
    for node in &result.nodes {
        writeln!(out, "{}/  ({} instances)", node.name, node.cumulative_instance_count)?;
    }
    for hit in &result.instances {
        let i = &hit.instance;
        match &i.name {
            Some(name) => writeln!(out, "{}  {name:?}  type {}", i.twin, i.type_id)?,
            None => writeln!(out, "{}  type {}", i.twin, i.type_id)?,
        }
    }
    if result.instance_count > result.instances.len() {
        writeln!(
            out,
            "... {} more (raise --limit)",
            result.instance_count - result.instances.len()
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
