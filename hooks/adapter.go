package hooks

// Adapter turns a foreign provider (a Lua function, a native symbol, a
// loader's own handle) into a Go func of a hook's provider type F, so that a
// provider of any kind sits in the same registry and is called the same way.
// Loaders set one per hook and kind with Hook.SetAdapter. Wrap runs during
// registration, on the goroutine building the registry; the F it returns runs
// on whichever goroutine calls the hook and must be safe there.
type Adapter[F any] interface {
	Wrap(foreign any) (F, error)
}

// AdapterFunc makes an Adapter of a plain func.
type AdapterFunc[F any] func(foreign any) (F, error)

// Wrap calls a(foreign).
func (a AdapterFunc[F]) Wrap(foreign any) (F, error) { return a(foreign) }

var _ Adapter[func()] = AdapterFunc[func()](nil)
