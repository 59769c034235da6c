import XDS
