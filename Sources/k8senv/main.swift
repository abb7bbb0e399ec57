print("k8senv")
