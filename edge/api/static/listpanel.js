// What the drone list and the radio roster share: entities by id, one row each, a redraw at most once a frame.
// A subclass sets this.rows (id -> row with .root and .refresh(entity)) and implements render().
export class ListPanel {
  constructor(badge, actions) {
    this.badge = badge;
    this.actions = actions;
    this.items = new Map();
    this.rows = new Map();
    this.selected = null;
    this.queued = false;
    document.addEventListener("languagechange", () => this.render());
  }

  replace(entities) {
    this.items = new Map(entities.map((e) => [e.id, e]));
    this.queue();
  }

  upsert(entity) {
    this.items.set(entity.id, entity);
    this.queue();
  }

  remove(id) {
    if (this.items.delete(id)) this.queue();
  }

  select(id) {
    this.selected = id;
    for (const [key, row] of this.rows) row.root.classList.toggle("selected", key === id);
  }

  // Rows' relative times ("12 s ago") move on without new data.
  refresh() {
    for (const [id, row] of this.rows) {
      const entity = this.items.get(id);
      if (entity) row.refresh(entity);
    }
  }

  // Re-render at most once per frame: a busy gateway reports many units a second.
  queue() {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.render();
    });
  }

  render() {}
}
