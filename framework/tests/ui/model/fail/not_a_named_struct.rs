use manouche::db::Model;

#[derive(Model)]
#[model(app = "blog")]
pub struct Post(i64, String);

fn main() {}
