//! Procedural macros for Manouche.
//!
//! Each derive lives in its own module (parse → validate → generate) and this
//! file only dispatches to it. The model, admin and form derives arrive with
//! the ORM; until then the crate is part of the workspace so that the
//! framework's dependency graph is already the final one.
