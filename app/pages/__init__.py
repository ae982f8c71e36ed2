"""The app's pages, one file per page: st.navigation runs each as a script (this package exists so
import-linter can check what pages may import)."""
