module github.com/modeltel/mlcommon

go 1.26.0
