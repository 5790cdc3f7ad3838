//! Widgets: how a field is drawn in HTML (Django's `forms.widgets`).
//!
//! The markup is Django's, attribute for attribute, so that CSS and
//! JavaScript written for Django forms keep working. Two deliberate
//! differences: date, time and date-time fields use the browsers' own
//! pickers (`type="date"`, `type="time"`, `type="datetime-local"`; Django
//! renders `type="text"`), and every value is escaped here, not by the
//! template. A password is never sent back to the browser, nor is a file.

use std::borrow::Cow;
use std::fmt::Write as _;

/// A `(stored value, label)` pair of a choice field.
pub type Choice = (Cow<'static, str>, Cow<'static, str>);

/// The kind of HTML control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WidgetKind {
    /// `<input type="text">`.
    Text,
    /// `<input type="email">`.
    Email,
    /// `<input type="url">`.
    Url,
    /// `<input type="number">`.
    Number,
    /// `<input type="password">`, never re-rendered with its value.
    Password,
    /// `<input type="hidden">`.
    Hidden,
    /// `<input type="date">`.
    Date,
    /// `<input type="time">`.
    Time,
    /// `<input type="datetime-local">`.
    DateTime,
    /// `<input type="file">`.
    File,
    /// `<textarea>`.
    Textarea,
    /// `<input type="checkbox">`.
    Checkbox,
    /// `<select>`.
    Select,
    /// `<select multiple>`.
    SelectMultiple,
    /// A list of radio buttons.
    RadioSelect,
    /// A list of checkboxes, several values.
    CheckboxSelectMultiple,
}

/// A widget: its kind and its HTML attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widget {
    kind: WidgetKind,
    pub(crate) attrs: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    /// For a file input: the file stored already, drawn before the input
    /// as Django's `ClearableFileInput` draws it.
    pub(crate) current_file: Option<CurrentFile>,
}

/// The file a file field holds already (a model form's row): its name,
/// its URL when a storage gives one, and whether a "Clear" box may empty
/// the field (not when it is required).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CurrentFile {
    pub(crate) name: String,
    pub(crate) url: Option<String>,
    pub(crate) clearable: bool,
}

/// The name of the "Clear" box of the file input `name` (Django's
/// `ClearableFileInput.clear_checkbox_name`).
pub(crate) fn clear_checkbox_name(name: &str) -> String {
    format!("{name}-clear")
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $kind:ident;)*) => {$(
        $(#[$doc])*
        #[must_use]
        pub fn $name() -> Self {
            Self::new(WidgetKind::$kind)
        }
    )*};
}

impl Widget {
    /// A widget of `kind` with no attributes (Textarea gets Django's
    /// `cols="40" rows="10"`).
    #[must_use]
    pub fn new(kind: WidgetKind) -> Self {
        let mut w = Self {
            kind,
            attrs: Vec::new(),
            current_file: None,
        };
        if kind == WidgetKind::Textarea {
            w.set_attr("cols", "40");
            w.set_attr("rows", "10");
        }
        w
    }

    constructors! {
        /// `<input type="text">`.
        text => Text;
        /// `<input type="email">`.
        email => Email;
        /// `<input type="url">`.
        url => Url;
        /// `<input type="number">`.
        number => Number;
        /// `<input type="password">`.
        password => Password;
        /// `<input type="hidden">`.
        hidden => Hidden;
        /// `<input type="date">`.
        date => Date;
        /// `<input type="time">`.
        time => Time;
        /// `<input type="datetime-local">`.
        datetime => DateTime;
        /// `<input type="file">`.
        file => File;
        /// `<textarea cols="40" rows="10">`.
        textarea => Textarea;
        /// `<input type="checkbox">`.
        checkbox => Checkbox;
        /// `<select>`.
        select => Select;
        /// `<select multiple>`.
        select_multiple => SelectMultiple;
        /// Radio buttons, one per choice.
        radio_select => RadioSelect;
        /// Checkboxes, one per choice.
        checkbox_select_multiple => CheckboxSelectMultiple;
    }

    /// The widget's kind.
    #[must_use]
    pub fn kind(&self) -> WidgetKind {
        self.kind
    }

    /// Sets an HTML attribute (`class`, `placeholder`, `rows`, ...),
    /// replacing one of the same name.
    pub fn set_attr(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> &mut Self {
        let (name, value) = (name.into(), value.into());
        match self.attrs.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((name, value)),
        }
        self
    }

    /// The value of the attribute `name`, if it is set.
    #[must_use]
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    /// The `type` of an `<input>` widget.
    #[must_use]
    pub fn input_type(&self) -> Option<&'static str> {
        Some(match self.kind {
            WidgetKind::Text => "text",
            WidgetKind::Email => "email",
            WidgetKind::Url => "url",
            WidgetKind::Number => "number",
            WidgetKind::Password => "password",
            WidgetKind::Hidden => "hidden",
            WidgetKind::Date => "date",
            WidgetKind::Time => "time",
            WidgetKind::DateTime => "datetime-local",
            WidgetKind::File => "file",
            WidgetKind::Checkbox => "checkbox",
            _ => return None,
        })
    }

    /// Whether the widget is hidden (not shown, no label).
    #[must_use]
    pub fn is_hidden(&self) -> bool {
        self.kind == WidgetKind::Hidden
    }

    /// Whether the widget draws one control per choice, so that its label
    /// names a group rather than one control (Django's `use_fieldset`).
    #[must_use]
    pub fn use_fieldset(&self) -> bool {
        matches!(
            self.kind,
            WidgetKind::RadioSelect | WidgetKind::CheckboxSelectMultiple
        )
    }

    pub(crate) fn has_choices(&self) -> bool {
        matches!(
            self.kind,
            WidgetKind::Select
                | WidgetKind::SelectMultiple
                | WidgetKind::RadioSelect
                | WidgetKind::CheckboxSelectMultiple
        )
    }

    pub(crate) fn allows_multiple(&self) -> bool {
        matches!(
            self.kind,
            WidgetKind::SelectMultiple | WidgetKind::CheckboxSelectMultiple
        )
    }

    pub(crate) fn is_text_like(&self) -> bool {
        matches!(
            self.kind,
            WidgetKind::Text
                | WidgetKind::Email
                | WidgetKind::Url
                | WidgetKind::Password
                | WidgetKind::Textarea
        )
    }

    pub(crate) fn is_ordered(&self) -> bool {
        matches!(
            self.kind,
            WidgetKind::Number | WidgetKind::Date | WidgetKind::Time | WidgetKind::DateTime
        )
    }

    /// Whether the browser's `required` attribute can apply (Django's
    /// `use_required_attribute`): not on hidden inputs, nor on a list of
    /// checkboxes, where it would demand every box.
    #[must_use]
    pub fn use_required_attribute(&self) -> bool {
        !matches!(
            self.kind,
            WidgetKind::Hidden | WidgetKind::CheckboxSelectMultiple
        )
    }

    /// Draws the widget for `name` showing `values`, with `extra` attributes
    /// (`id`, `required`, `aria-*`) after the widget's own.
    pub fn render(
        &self,
        out: &mut String,
        name: &str,
        values: &[String],
        extra: &[(&str, Cow<'_, str>)],
        choices: &[Choice],
    ) {
        let attrs = || {
            self.attrs
                .iter()
                .map(|(k, v)| (k.as_ref(), v.as_ref()))
                .chain(extra.iter().map(|(k, v)| (*k, v.as_ref())))
        };
        match self.kind {
            WidgetKind::Textarea => {
                out.push_str("<textarea name=\"");
                escape_into(out, name);
                out.push('"');
                write_attrs(out, attrs());
                // Django's textarea.html: a newline after the tag, which
                // browsers drop, so that a value starting with one keeps it.
                out.push_str(">\n");
                if let Some(v) = values.last() {
                    escape_into(out, v);
                }
                out.push_str("</textarea>");
            }
            WidgetKind::Checkbox => {
                let checked = !values.is_empty();
                input(out, "checkbox", name, None, attrs(), checked);
            }
            WidgetKind::Select | WidgetKind::SelectMultiple => {
                out.push_str("<select name=\"");
                escape_into(out, name);
                out.push('"');
                write_attrs(out, attrs());
                if self.kind == WidgetKind::SelectMultiple {
                    out.push_str(" multiple");
                }
                out.push_str(">\n");
                for (value, label) in choices {
                    out.push_str("  <option value=\"");
                    escape_into(out, value);
                    out.push('"');
                    if values.iter().any(|v| v == value) {
                        out.push_str(" selected");
                    }
                    out.push('>');
                    escape_into(out, label);
                    out.push_str("</option>\n");
                }
                out.push_str("</select>");
            }
            WidgetKind::RadioSelect | WidgetKind::CheckboxSelectMultiple => {
                let ty = if self.kind == WidgetKind::RadioSelect {
                    "radio"
                } else {
                    "checkbox"
                };
                // Django's multiple_input.html: a <div> with the id, one
                // <div><label> per choice, ids suffixed _0, _1, ...
                let id = extra
                    .iter()
                    .find(|(k, _)| *k == "id")
                    .map(|(_, v)| v.as_ref());
                out.push_str("<div");
                if let Some(id) = id {
                    out.push_str(" id=\"");
                    escape_into(out, id);
                    out.push('"');
                }
                out.push_str(">\n");
                for (i, (value, label)) in choices.iter().enumerate() {
                    out.push_str("<div>\n    <label");
                    let option_id = id.map(|id| format!("{id}_{i}"));
                    if let Some(option_id) = &option_id {
                        out.push_str(" for=\"");
                        escape_into(out, option_id);
                        out.push('"');
                    }
                    out.push('>');
                    let mut option_attrs: Vec<(&str, &str)> =
                        attrs().filter(|(k, _)| *k != "id").collect();
                    if let Some(option_id) = &option_id {
                        option_attrs.push(("id", option_id));
                    }
                    let checked = values.iter().any(|v| v == value);
                    input(
                        out,
                        ty,
                        name,
                        Some(value),
                        option_attrs.into_iter(),
                        checked,
                    );
                    out.push('\n');
                    escape_into(out, label);
                    out.push_str("</label>\n\n</div>\n");
                }
                out.push_str("</div>");
            }
            WidgetKind::File if self.current_file.is_some() => {
                if let Some(current) = &self.current_file {
                    draw_current_file(out, name, current);
                }
                input(out, "file", name, None, attrs(), false);
            }
            WidgetKind::Password | WidgetKind::File => {
                let ty = self.input_type().expect("an input");
                input(out, ty, name, None, attrs(), false);
            }
            _ => {
                let ty = self.input_type().expect("an input");
                // Django's Input.format_value: an empty value is no value.
                let value = values.last().map(String::as_str).filter(|v| !v.is_empty());
                input(out, ty, name, value, attrs(), false);
            }
        }
    }
}

/// Django's `clearable_file_input.html` before the input: "Currently:"
/// and a link to the file, the "Clear" box when the field may be emptied,
/// then "Change:".
fn draw_current_file(out: &mut String, name: &str, current: &CurrentFile) {
    out.push_str("Currently: ");
    match &current.url {
        Some(url) => {
            out.push_str("<a href=\"");
            escape_into(out, url);
            out.push_str("\">");
            escape_into(out, &current.name);
            out.push_str("</a>");
        }
        None => escape_into(out, &current.name),
    }
    if current.clearable {
        let checkbox = clear_checkbox_name(name);
        let id = format!("{checkbox}_id");
        out.push('\n');
        input(
            out,
            "checkbox",
            &checkbox,
            None,
            [("id", id.as_str())].into_iter(),
            false,
        );
        out.push_str("\n<label for=\"");
        escape_into(out, &id);
        out.push_str("\">Clear</label>");
    }
    out.push_str("<br>\nChange:\n");
}

fn input<'a>(
    out: &mut String,
    ty: &str,
    name: &str,
    value: Option<&str>,
    attrs: impl Iterator<Item = (&'a str, &'a str)>,
    checked: bool,
) {
    let _ = write!(out, "<input type=\"{ty}\" name=\"");
    escape_into(out, name);
    out.push('"');
    if let Some(v) = value {
        out.push_str(" value=\"");
        escape_into(out, v);
        out.push('"');
    }
    write_attrs(out, attrs);
    if checked {
        out.push_str(" checked");
    }
    out.push('>');
}

/// ` name="value"` for each attribute; a boolean attribute (`required`,
/// `disabled`) has the value `""` and is written bare, as Django's
/// attrs.html does for `True`.
fn write_attrs<'a>(out: &mut String, attrs: impl Iterator<Item = (&'a str, &'a str)>) {
    for (k, v) in attrs {
        out.push(' ');
        escape_into(out, k);
        if !v.is_empty() || !is_boolean_attribute(k) {
            out.push_str("=\"");
            escape_into(out, v);
            out.push('"');
        }
    }
}

fn is_boolean_attribute(name: &str) -> bool {
    matches!(
        name,
        "required" | "disabled" | "readonly" | "autofocus" | "multiple" | "checked" | "selected"
    )
}

/// Appends `text` with `& < > " '` escaped, as Django's `escape`.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(w: &Widget, values: &[&str], choices: &[Choice]) -> String {
        let mut out = String::new();
        let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        w.render(&mut out, "f", &values, &[("id", "id_f".into())], choices);
        out
    }

    #[test]
    fn inputs_as_django_draws_them() {
        let mut w = Widget::text();
        w.set_attr("maxlength", "10");
        assert_eq!(
            draw(&w, &["a\"<b>"], &[]),
            r#"<input type="text" name="f" value="a&quot;&lt;b&gt;" maxlength="10" id="id_f">"#
        );
        assert_eq!(
            draw(&Widget::text(), &[], &[]),
            r#"<input type="text" name="f" id="id_f">"#
        );
        assert_eq!(
            draw(&Widget::password(), &["secret"], &[]),
            r#"<input type="password" name="f" id="id_f">"#
        );
        assert_eq!(
            draw(&Widget::checkbox(), &["on"], &[]),
            r#"<input type="checkbox" name="f" id="id_f" checked>"#
        );
        assert_eq!(
            draw(&Widget::textarea(), &["</textarea><script>"], &[]),
            "<textarea name=\"f\" cols=\"40\" rows=\"10\" id=\"id_f\">\n&lt;/textarea&gt;&lt;script&gt;</textarea>"
        );
    }

    #[test]
    fn selects_mark_the_chosen_options() {
        let choices = vec![("a".into(), "Apple".into()), ("b".into(), "B & B".into())];
        assert_eq!(
            draw(&Widget::select(), &["b"], &choices),
            "<select name=\"f\" id=\"id_f\">\n  <option value=\"a\">Apple</option>\n  \
             <option value=\"b\" selected>B &amp; B</option>\n</select>"
        );
        assert!(draw(&Widget::select_multiple(), &["a", "b"], &choices).contains("multiple>"));
        let radios = draw(&Widget::radio_select(), &["a"], &choices);
        assert!(radios.starts_with("<div id=\"id_f\">"), "{radios}");
        assert!(
            radios.contains(
                r#"<label for="id_f_0"><input type="radio" name="f" value="a" id="id_f_0" checked>"#
            ),
            "{radios}"
        );
    }

    #[test]
    fn boolean_attributes_are_bare() {
        let mut out = String::new();
        Widget::text().render(&mut out, "f", &[], &[("required", "".into())], &[]);
        assert_eq!(out, r#"<input type="text" name="f" required>"#);
    }
}
