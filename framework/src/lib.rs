//! Manouche: a batteries-included web framework in the spirit of Django.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// Lets the derive macros name `::manouche::...` from inside this crate too.
extern crate self as manouche;
