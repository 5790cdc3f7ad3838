use std::collections::HashMap;

use manouche::db::{Auto, Model};

#[derive(Model)]
#[model(app = "blog")]
pub struct Post {
    pub id: Auto<i64>,
    pub extra: HashMap<String, String>,
}

fn main() {}
