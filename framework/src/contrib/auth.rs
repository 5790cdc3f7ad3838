//! The authentication app (`django.contrib.auth`): users, groups and
//! permissions, password hashing and validation, the login, logout and
//! password views, and the extractors that guard views.

pub mod hashers;
pub mod tokens;
pub mod validators;
