//! BuildKit wire types, a deterministic LLB graph builder and the Cachet spec compiler.
pub mod compile;
pub mod explain;
pub mod front;
pub mod inspect;
pub mod keys;
pub mod llb;
pub mod project;
pub mod proto;
pub mod sbom;
pub mod spec;
