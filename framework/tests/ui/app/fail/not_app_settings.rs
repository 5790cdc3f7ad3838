use manouche::App;

#[derive(Default)]
struct ShopSettings {
    title: String,
}

fn main() {
    let _ = ShopSettings::default().title;
    let _ = App::new("shop").settings::<ShopSettings>();
}
